import { hourOfToken, hourToken } from "./periods.js";

/** Subject a tenant's usage records are appended on. */
export const ledgerSubject = (prefix: string, tenant: string): string => `${prefix}.ledger.${tenant}`;
/**
 * Subject of record batches (a tenant is a lowercase identifier, so never "_batches"); inside
 * `allLedgerSubjects`, so the stream holds both.
 */
export const ledgerBatchSubject = (prefix: string): string => `${prefix}.ledger._batches`;
/** A record's batch index is at most this less one: its ledger position is sequence × it + index. */
export const MAX_BATCH_RECORDS = 1024;
/** Where a record is in the ledger: its message's stream sequence and its index in the message. */
export const ledgerPosition = (sequence: number | bigint, index: number): bigint =>
  BigInt(sequence) * BigInt(MAX_BATCH_RECORDS) + BigInt(index);
/** Every tenant's records. */
export const allLedgerSubjects = (prefix: string): string => `${prefix}.ledger.*`;

/** Durable consumer the aggregator reads the stream with. */
export const AGGREGATOR_CONSUMER = "tiermesh-aggregator";

/** Key of the aggregate of one tenant × tier × hour: "<tenant>.<tier>.<yyyymmddhh>". */
export const aggregateKey = (tenant: string, tier: string, hourMs: number): string => `${tenant}.${tier}.${hourToken(hourMs)}`;

/** The parts of an aggregate key; undefined for another key. */
export function parseAggregateKey(key: string): { tenant: string; tier: string; hourMs: number } | undefined {
  const [tenant, tier, token, ...rest] = key.split(".");
  if (tenant === undefined || tier === undefined || token === undefined || rest.length > 0) return undefined;
  const hourMs = hourOfToken(token);
  return Number.isNaN(hourMs) ? undefined : { tenant, tier, hourMs };
}

import { hourOfToken, hourToken } from "./periods.js";

/** Subject a tenant's usage records are appended on. */
export const ledgerSubject = (prefix: string, tenant: string): string => `${prefix}.ledger.${tenant}`;
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

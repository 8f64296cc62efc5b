import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { UsageAggregate } from "@tiermesh/proto";
import { parseAggregateKey } from "./ledger-names.js";
import { decodeAggregate, encodeAggregate } from "./usage-codec.js";

/** Key holding the aggregator's checkpoint: every ledger record up to it is in the aggregates. */
export const CHECKPOINT_KEY = "_checkpoint";

/** Opens (creating if needed) the bucket of hourly usage aggregates. File storage, latest value only. */
export function openAggregates(nc: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1 });
}

/** The aggregate stored under `key`, with the revision to compare-and-set against (0: none). */
export async function readAggregate(kv: KV, key: string): Promise<{ aggregate: UsageAggregate | undefined; revision: number }> {
  const entry = await kv.get(key);
  if (entry?.operation !== "PUT" || entry.value.length === 0) return { aggregate: undefined, revision: entry?.revision ?? 0 };
  return { aggregate: decodeAggregate(entry.value), revision: entry.revision };
}

/** Writes `aggregate` if the key is still at `revision` (0: absent or deleted); false on a conflict. */
export async function writeAggregate(kv: KV, key: string, aggregate: UsageAggregate, revision: number): Promise<boolean> {
  try {
    if (revision === 0) await kv.create(key, encodeAggregate(aggregate));
    else await kv.update(key, encodeAggregate(aggregate), revision);
    return true;
  } catch (cause) {
    if (isConflict(cause)) return false;
    throw cause;
  }
}

/**
 * The aggregates in the bucket, by key: those matching `filter` (e.g. "acme.>"), and of hours
 * in `[fromMs, toMs)` when given (only those are read).
 */
export async function readAggregates(kv: KV, filter = ">", hours?: { fromMs: number; toMs: number }): Promise<Map<string, UsageAggregate>> {
  const out = new Map<string, UsageAggregate>();
  const keys: string[] = [];
  for await (const key of await kv.keys(filter)) {
    const k = parseAggregateKey(key);
    if (k && (!hours || (k.hourMs >= hours.fromMs && k.hourMs < hours.toMs))) keys.push(key);
  }
  for (const key of keys) {
    const { aggregate } = await readAggregate(kv, key);
    if (aggregate) out.set(key, aggregate);
  }
  return out;
}

/** The aggregator's checkpoint (0: none yet). */
export async function readCheckpoint(kv: KV): Promise<{ sequence: number; revision: number }> {
  const entry = await kv.get(CHECKPOINT_KEY);
  if (entry?.operation !== "PUT" || entry.value.length === 0) return { sequence: 0, revision: entry?.revision ?? 0 };
  return { sequence: Number(entry.string()), revision: entry.revision };
}

/** Removes every aggregate and the checkpoint, so the aggregator starts over from the stream. */
export async function clearAggregates(kv: KV): Promise<number> {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  for (const key of keys) await kv.purge(key);
  return keys.length;
}

function isConflict(cause: unknown): boolean {
  return cause instanceof Error && /wrong last sequence|key exists/i.test(cause.message);
}

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
  if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return { aggregate: undefined, revision: entry?.revision ?? 0 };
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

/** Every aggregate in the bucket (optionally only keys matching `filter`, e.g. "acme.>"), by key. */
export async function readAggregates(kv: KV, filter = ">"): Promise<Map<string, UsageAggregate>> {
  const out = new Map<string, UsageAggregate>();
  const keys: string[] = [];
  for await (const key of await kv.keys(filter)) if (parseAggregateKey(key)) keys.push(key);
  for (const key of keys) {
    const { aggregate } = await readAggregate(kv, key);
    if (aggregate) out.set(key, aggregate);
  }
  return out;
}

/** The aggregator's checkpoint (0: none yet). */
export async function readCheckpoint(kv: KV): Promise<{ sequence: number; revision: number }> {
  const entry = await kv.get(CHECKPOINT_KEY);
  if (!entry || entry.operation !== "PUT" || entry.value.length === 0) return { sequence: 0, revision: entry?.revision ?? 0 };
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

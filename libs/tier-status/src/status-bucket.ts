import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { TierStatusEvent } from "@tiermesh/proto";
import { decodeStatus } from "./status-codec.js";

/** Opens (creating if needed) the key-value bucket holding the latest status per tier. */
export function openStatusBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1 });
}

/** Latest stored status of each of `tiers` (missing or unreadable entries are left out). */
export async function readStatuses(kv: KV, tiers: readonly string[]): Promise<TierStatusEvent[]> {
  const found: TierStatusEvent[] = [];
  for (const tier of tiers) {
    const entry = await kv.get(tier);
    if (entry?.operation !== "PUT" || entry.value.length === 0) continue;
    try {
      found.push(decodeStatus(entry.value));
    } catch {
      // A value we cannot read is treated as no value; the next event replaces it.
    }
  }
  return found;
}

import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { LedgerConfig } from "@tiermesh/config";
import { clearAggregates, openAggregates } from "./aggregate-store.js";
import { AGGREGATOR_CONSUMER } from "./ledger-names.js";
import { isNotFound } from "./ledger-stream.js";

/**
 * Starts the aggregates over from the ledger stream: removes every aggregate and the
 * checkpoint, and the aggregator's consumer, so the leading monitor's aggregator (which
 * recreates its consumer at the checkpoint + 1 whenever it is lost) replays the whole stream.
 * Hours whose records the stream no longer keeps (past `retention_days`) are lost from the
 * aggregates too. Returns the number of keys removed.
 */
export async function rebuildAggregates(nc: NatsConnection, ledger: LedgerConfig): Promise<number> {
  const kv = await openAggregates(nc, ledger.aggregates_bucket);
  const removed = await clearAggregates(kv);
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.delete(ledger.stream, AGGREGATOR_CONSUMER).catch((cause: unknown) => {
    if (!isNotFound(cause)) throw cause;
  });
  return removed;
}

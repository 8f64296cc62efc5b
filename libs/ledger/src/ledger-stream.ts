import { jetstreamManager, RetentionPolicy, StorageType, type StreamInfo } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { LedgerConfig } from "@tiermesh/config";
import { allLedgerSubjects } from "./ledger-names.js";

const NS_PER_MS = 1_000_000;
const DAY_MS = 86_400_000;

/**
 * Creates the ledger stream, or brings an existing one to the configured retention and
 * deduplication window. File storage: records survive a NATS restart.
 */
export async function ensureLedgerStream(nc: NatsConnection, prefix: string, config: LedgerConfig): Promise<StreamInfo> {
  const jsm = await jetstreamManager(nc);
  const settings = {
    subjects: [allLedgerSubjects(prefix)],
    max_age: config.retention_days * DAY_MS * NS_PER_MS,
    duplicate_window: config.dedup_window_ms * NS_PER_MS,
  };
  try {
    const info = await jsm.streams.info(config.stream);
    const c = info.config;
    if (
      c.max_age === settings.max_age &&
      c.duplicate_window === settings.duplicate_window &&
      c.subjects.join() === settings.subjects.join()
    )
      return info;
    return await jsm.streams.update(config.stream, settings);
  } catch (cause) {
    if (!isNotFound(cause)) throw cause;
    return await jsm.streams.add({ name: config.stream, storage: StorageType.File, retention: RetentionPolicy.Limits, ...settings });
  }
}

export function isNotFound(cause: unknown): boolean {
  return cause instanceof Error && /not found/i.test(cause.message);
}

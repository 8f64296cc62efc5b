import { jetstreamManager } from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";

/**
 * Brings an existing bucket's age limit to `retentionMs`: the clients open an existing
 * key-value or object bucket with the settings it was created with, so a changed
 * `retention_hours` would otherwise never reach it.
 */
export async function keepMaxAge(nc: NatsConnection, stream: string, retentionMs: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  const want = nanos(retentionMs);
  if (info.config.max_age !== want) await jsm.streams.update(stream, { ...info.config, max_age: want });
}

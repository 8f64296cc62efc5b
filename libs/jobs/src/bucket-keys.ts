import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * Keys of a key-value bucket matching `filter` (a key pattern with `*`), as the server lists
 * the subjects of the bucket's stream in one request (paged by the client). Unlike the KV
 * client's `keys()`, which reads through a consumer until nothing is pending, this is a
 * snapshot that returns at once while the bucket keeps changing.
 */
export async function bucketKeys(nc: NatsConnection, bucket: string, filter: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}${filter}` });
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(prefix.length));
}

import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { TierStatusEvent } from "@tiermesh/proto";
import { openStatusBucket, readStatuses } from "./status-bucket.js";
import { decodeStatus } from "./status-codec.js";
import { subjects } from "./subjects.js";

export interface TierStatusFeedOptions {
  prefix: string;
  bucket: string;
  tiers: readonly string[];
  /** Receives every status, from live events ("event") and from the bucket at (re)connect ("bucket"). */
  onStatus: (event: TierStatusEvent, source: "event" | "bucket") => void;
  onError?: (err: unknown) => void;
}

/**
 * Follows tier status: live events on `<prefix>.status.*`, plus the key-value bucket
 * read at every (re)connect so a late or reconnecting consumer has current state at once.
 * Feed it a connection through `attach` (from NatsLink's onConnected).
 */
export class TierStatusFeed {
  private subscription: Subscription | undefined;

  constructor(private readonly options: TierStatusFeedOptions) {}

  attach(nc: NatsConnection): void {
    const { onStatus, onError } = this.options;
    if (this.subscription === undefined) {
      // nats.js re-subscribes by itself after a reconnect; subscribe once per connection.
      this.subscription = nc.subscribe(subjects(this.options.prefix).allStatus, {
        callback: (err, msg) => {
          if (err) return onError?.(err);
          try {
            onStatus(decodeStatus(msg.data), "event");
          } catch (cause) {
            onError?.(cause);
          }
        },
      });
    }
    void this.resync(nc).catch((err: unknown) => onError?.(err));
  }

  private async resync(nc: NatsConnection): Promise<void> {
    const kv = await openStatusBucket(nc, this.options.bucket);
    for (const event of await readStatuses(kv, this.options.tiers)) this.options.onStatus(event, "bucket");
  }

  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }
}

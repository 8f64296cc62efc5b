import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { TierStatusEvent } from "@tiermesh/proto";
import { openStatusBucket, readStatuses } from "./status-bucket.js";
import { TierState } from "@tiermesh/proto";
import { Tiermesh, type Tracer } from "@tiermesh/telemetry";
import { isSampled, senderOf, startProcess } from "./message-tracing.js";
import { decodeStatus } from "./status-codec.js";
import { subjects } from "./subjects.js";

export interface TierStatusFeedOptions {
  prefix: string;
  bucket: string;
  tiers: readonly string[];
  /** Receives every status, from live events ("event") and from the bucket at (re)connect ("bucket"). */
  onStatus: (event: TierStatusEvent, source: "event" | "bucket") => void;
  onError?: (err: unknown) => void;
  /** Traces applying a status event that arrives with a trace context (state changes); undefined while tracing is off. */
  tracer?: Tracer | undefined;
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
            const event = decodeStatus(msg.data);
            const sender = this.options.tracer && senderOf(msg.headers);
            if (!isSampled(sender)) return onStatus(event, "event");
            const span = startProcess(this.options.tracer!, msg.subject, sender, undefined, {
              [Tiermesh.tier]: event.tier,
              [Tiermesh.tierState]: TierState[event.state],
              [Tiermesh.tierPreviousState]: TierState[event.previousState],
              [Tiermesh.sequence]: event.sequence.toString(),
            });
            try {
              onStatus(event, "event");
            } finally {
              span.end();
            }
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

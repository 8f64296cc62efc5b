import type { KV } from "@nats-io/kv";
import { TierState, type TierStatusEvent } from "@tiermesh/proto";
import { Tiermesh, type SpanContext, type Tracer } from "@tiermesh/telemetry";
import { encodeStatus, startSend, subjects, type NatsLink } from "@tiermesh/tier-status";

interface PublisherLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Publishes tier-status events: every event on `<prefix>.status.<tier>` and into the
 * key-value bucket; state changes also on `<prefix>.alert.<tier>`. A state change is traced
 * (a `send` span, linked to the traced outcomes that led to it, its context in the message
 * headers); heartbeats are not.
 */
export class StatusPublisher {
  private readonly subjects;

  constructor(
    private readonly link: NatsLink,
    prefix: string,
    private readonly bucket: () => KV | undefined,
    private readonly logger: PublisherLogger,
    private readonly tracer?: Tracer,
  ) {
    this.subjects = subjects(prefix);
  }

  /** `causes`: the traced outcomes behind a state change. */
  publish(event: TierStatusEvent, change: boolean, causes: readonly SpanContext[] = []): void {
    const nc = this.link.connection;
    if (!nc || nc.isClosed()) return;
    const bytes = encodeStatus(event);
    const subject = this.subjects.status(event.tier);
    const sent =
      change && this.tracer
        ? startSend(this.tracer, subject, causes, {
            [Tiermesh.tier]: event.tier,
            [Tiermesh.tierState]: TierState[event.state],
            [Tiermesh.tierPreviousState]: TierState[event.previousState],
            [Tiermesh.sequence]: event.sequence.toString(),
            [Tiermesh.reasons]: [event.reason],
          })
        : undefined;
    const options = sent ? { headers: sent.headers } : undefined;
    nc.publish(subject, bytes, options);
    if (change) nc.publish(this.subjects.alert(event.tier), bytes, options);
    sent?.span.end();
    this.bucket()
      ?.put(event.tier, bytes)
      .catch((err: unknown) => this.logger.warn({ err, tier: event.tier }, "status bucket write failed"));
  }
}

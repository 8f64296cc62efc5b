import type { KV } from "@nats-io/kv";
import type { TierStatusEvent } from "@tiermesh/proto";
import { encodeStatus, subjects, type NatsLink } from "@tiermesh/tier-status";

interface PublisherLogger {
  warn(obj: object, msg: string): void;
}

/**
 * Publishes tier-status events: every event on `<prefix>.status.<tier>` and into the
 * key-value bucket; state changes also on `<prefix>.alert.<tier>`.
 */
export class StatusPublisher {
  private readonly subjects;

  constructor(
    private readonly link: NatsLink,
    prefix: string,
    private readonly bucket: () => KV | undefined,
    private readonly logger: PublisherLogger,
  ) {
    this.subjects = subjects(prefix);
  }

  publish(event: TierStatusEvent, change: boolean): void {
    const nc = this.link.connection;
    if (!nc || nc.isClosed()) return;
    const bytes = encodeStatus(event);
    nc.publish(this.subjects.status(event.tier), bytes);
    if (change) nc.publish(this.subjects.alert(event.tier), bytes);
    this.bucket()
      ?.put(event.tier, bytes)
      .catch((err: unknown) => this.logger.warn({ err, tier: event.tier }, "status bucket write failed"));
  }
}

import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";

interface LeaseLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LeaderLeaseOptions {
  /** Bucket holding the lease; its max age is the lease time. */
  bucket: string;
  /** This replica's id, stored as the lease value. */
  id: string;
  leaseMs: number;
  logger: LeaseLogger;
  onChange: (leader: boolean) => void;
}

const KEY = "leader";

/**
 * One leader among monitor replicas, by a lease in a NATS key-value bucket whose entries
 * expire after `leaseMs`: the leader renews it every third of that with a compare-and-set
 * on its revision; the others try to create it. When the leader dies its entry expires
 * and another replica takes over within about one lease; a leader that stops shutting
 * down hands over at once by deleting the entry. A leader that cannot renew steps down
 * before its lease could have passed to someone else.
 */
export class LeaderLease {
  private kv: KV | undefined;
  private revision = 0;
  private leading = false;
  private renewedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: LeaderLeaseOptions) {}

  get isLeader(): boolean {
    // Never act on a lease that may have expired since it was last renewed.
    return this.leading && Date.now() - this.renewedAt < this.options.leaseMs;
  }

  async start(nc: NatsConnection): Promise<void> {
    this.kv = await new Kvm(nc).create(this.options.bucket, { history: 1, ttl: this.options.leaseMs });
    await this.tick();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        void this.tick().finally(() => this.schedule());
      },
      Math.max(50, Math.floor(this.options.leaseMs / 3)),
    );
  }

  private async tick(): Promise<void> {
    const kv = this.kv;
    if (!kv) return;
    const started = Date.now();
    try {
      this.revision = this.leading ? await kv.update(KEY, this.options.id, this.revision) : await kv.create(KEY, this.options.id);
      this.renewedAt = started;
      this.set(true);
    } catch {
      if (this.leading) this.options.logger.warn({ id: this.options.id }, "lost the monitor lease");
      this.set(false);
    }
  }

  private set(leader: boolean): void {
    if (leader === this.leading) return;
    this.leading = leader;
    if (leader) this.options.logger.info({ id: this.options.id }, "became the leading monitor");
    this.options.onChange(leader);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.leading && this.kv) await this.kv.delete(KEY, { previousSeq: this.revision }).catch(() => undefined);
    this.leading = false;
  }
}

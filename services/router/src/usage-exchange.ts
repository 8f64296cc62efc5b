import { randomUUID } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import { UsageReportSchema } from "@tiermesh/proto";
import type { RateLimiter, SharingMode } from "./rate-limiter.js";

export interface UsageExchangeOptions {
  /** `<prefix>.limits.usage`. */
  subject: string;
  /** The connection while it is up; undefined or closed while NATS is unreachable. */
  connection: () => NatsConnection | undefined;
  connected: () => boolean;
  syncMs: number;
  onError?: (err: unknown) => void;
  /** Every this many periods a report carries every window, not only those changed (late joiners, lost reports). */
  fullEvery?: number;
  /**
   * Some tenant has a rate limit (default: always). While none has, there is nothing to share
   * and a report goes only every half `max(1 s, 5 periods)`, as a heartbeat that keeps the
   * replicas known to each other for when a limit is set.
   */
  sharing?: () => boolean;
}

/**
 * Tells the other router replicas what each tenant consumed here, and hears theirs, on one
 * NATS subject: every sync period this replica claims its allowances (see RateLimiter) and
 * reports its cumulative counts and ceilings per tenant window (changed ones; all of them about
 * once a second); a claim made between periods is reported at once. A report is sent even when
 * nothing changed, as a heartbeat (while no tenant has a rate limit, only often enough to stay
 * known). A replica not heard for `max(1 s, 5 periods)` no longer counts among those sharing
 * the headroom, and what it claimed but did not use is released. While NATS is down the
 * replicas last seen keep their shares.
 */
export class UsageExchange {
  readonly replica = randomUUID();
  private readonly peers = new Map<string, number>();
  private subscription: Subscription | undefined;
  private periods = 0;
  private soon = false;
  private replicasLastSeen = 1;
  private lastSent = -Infinity;
  private readonly timer: NodeJS.Timeout;
  private readonly peerTtlMs: number;
  private readonly fullEvery: number;
  private limiter: RateLimiter | undefined;

  constructor(private readonly options: UsageExchangeOptions) {
    this.peerTtlMs = Math.max(1_000, 5 * options.syncMs);
    this.fullEvery = options.fullEvery ?? Math.max(1, Math.round(1_000 / options.syncMs));
    this.timer = setInterval(() => this.tick(), options.syncMs);
    this.timer.unref();
  }

  /** The limiter whose counts are exchanged. */
  bind(limiter: RateLimiter): void {
    this.limiter = limiter;
  }

  /** Subscribes on a (re)connected connection; nats.js keeps the subscription across reconnects. */
  attach(nc: NatsConnection): void {
    if (this.subscription !== undefined) return;
    this.subscription = nc.subscribe(this.options.subject, {
      callback: (err, msg) => {
        if (err) return this.options.onError?.(err);
        try {
          this.receive(msg.data);
        } catch (cause) {
          this.options.onError?.(cause);
        }
      },
    });
  }

  mode = (): SharingMode => {
    const shared = this.options.connected();
    return { shared, replicas: shared ? this.liveReplicas() : this.replicasLastSeen, liveSince: Date.now() - this.peerTtlMs };
  };

  /** Sends this replica's report soon (once, however many claims ask for it in this turn of the event loop). */
  publishSoon = (): void => {
    if (this.soon) return;
    this.soon = true;
    queueMicrotask(() => {
      this.soon = false;
      this.publish(false);
    });
  };

  /** Starts a sync period: claims allowances and sends this replica's report. */
  tick(): void {
    this.periods++;
    if (!this.options.connected()) return;
    this.replicasLastSeen = this.liveReplicas();
    this.limiter?.tick();
    if (this.options.sharing?.() === false && Date.now() - this.lastSent < this.peerTtlMs / 2) return;
    this.publish(this.periods % this.fullEvery === 0);
  }

  private publish(full: boolean): void {
    const nc = this.options.connection();
    if (!nc || nc.isClosed() || !this.limiter || !this.options.connected()) return;
    const usage = this.limiter.report(full).map((u) => ({
      tenant: u.tenant,
      window: BigInt(u.window),
      requests: BigInt(u.counts.requests),
      tokens: BigInt(u.counts.tokens),
      requestsCeiling: u.ceiling.requests,
      tokensCeiling: u.ceiling.tokens,
    }));
    try {
      nc.publish(
        this.options.subject,
        toBinary(UsageReportSchema, create(UsageReportSchema, { replica: this.replica, sentAtMs: BigInt(Date.now()), usage })),
      );
      this.lastSent = Date.now();
    } catch (cause) {
      this.options.onError?.(cause);
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.subscription?.unsubscribe();
    this.subscription = undefined;
  }

  private receive(data: Uint8Array): void {
    const report = fromBinary(UsageReportSchema, data);
    if (report.replica === this.replica || report.replica === "") return;
    this.peers.set(report.replica, Date.now());
    for (const u of report.usage) {
      const counts = { requests: Number(u.requests), tokens: Number(u.tokens) };
      this.limiter?.applyRemote(report.replica, u.tenant, Number(u.window), counts, {
        requests: u.requestsCeiling,
        tokens: u.tokensCeiling,
      });
    }
  }

  private liveReplicas(): number {
    const since = Date.now() - this.peerTtlMs;
    let live = 1;
    for (const [peer, seen] of this.peers) {
      if (seen >= since) live++;
      else if (seen < since - 60 * this.peerTtlMs) this.peers.delete(peer);
    }
    return live;
  }
}

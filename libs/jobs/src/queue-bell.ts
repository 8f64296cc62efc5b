import type { NatsConnection, Subscription } from "@nats-io/transport-node";

/**
 * Rings when a job is queued on a tier: a core NATS subscription to the tier's queue subjects,
 * which sees every message published to them, stored by the stream or not. An idle consumer
 * waits on it instead of asking the stream again and again whether anything came.
 */
export class QueueBell {
  private readonly subscriptions: Subscription[];
  private readonly waiters = new Set<() => void>();
  /** Date.now() of the last ring; -Infinity before the first. */
  private lastRing = Number.NEGATIVE_INFINITY;

  constructor(nc: NatsConnection, subjects: readonly string[]) {
    this.subscriptions = subjects.map((subject) => nc.subscribe(subject, { callback: () => this.ring() }));
  }

  /** No ring for `ms` up to now, nor since `since` (Date.now() when a look at the stream began). */
  quietSince(since: number, ms: number): boolean {
    return this.lastRing < since - ms;
  }

  /** Resolves true at the next ring, or false after `ms`. */
  wait(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const rung = () => {
        clearTimeout(timer);
        this.waiters.delete(rung);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(rung);
        resolve(false);
      }, ms);
      this.waiters.add(rung);
    });
  }

  close(): void {
    for (const s of this.subscriptions) s.unsubscribe();
    for (const w of [...this.waiters]) w();
  }

  private ring(): void {
    this.lastRing = Date.now();
    for (const w of [...this.waiters]) w();
  }
}

import type { BreakerConfig } from "@tiermesh/config";

export type BreakerState = "closed" | "open" | "half_open";

/** Buckets the sliding window is split into. */
const BUCKETS = 10;

interface Bucket {
  /** Index of the `bucketMs`-long slice of time this bucket holds; -1 when unused. */
  slice: number;
  attempts: number;
  failures: number;
}

/**
 * Circuit breaker for one deployment.
 *
 * Guarantees:
 * - closed: every attempt is allowed. Outcomes are counted in a sliding window of
 *   `window_ms` split into 10 buckets, so an outcome counts for between 90% and 100%
 *   of `window_ms`. The breaker opens as soon as the window holds at least
 *   `min_requests` outcomes and the failure share is at or above `failure_ratio`.
 * - open: nothing is allowed for `open_ms`; outcomes of attempts started earlier are ignored.
 * - half_open: at most `half_open_probes` attempts are let through at once. The first
 *   reported outcome decides: a success closes the breaker with an empty window, a
 *   failure opens it for another `open_ms`. A probe neither recorded nor abandoned
 *   within `open_ms` is presumed lost and its slot is given back, so a leaked probe
 *   cannot keep the deployment out for ever.
 *
 * The breaker never judges outcomes itself: the caller decides what is a failure. The
 * tier runner records server, network and timeout failures as failures and successes as
 * successes; client errors and cancellations say nothing about the deployment's health
 * and must not be recorded (call `abandon()` instead, so a half-open probe slot is freed).
 * Direct evidence bypasses the window: `trip()` opens at once (a stall), `reset()` closes at
 * once (a successful canary probe).
 */
export class CircuitBreaker {
  private readonly bucketMs: number;
  private readonly buckets: Bucket[];
  private current: BreakerState = "closed";
  private openedAt = 0;
  /** Start times of half-open probes not yet reported, oldest first. */
  private probes: number[] = [];

  constructor(
    private readonly config: BreakerConfig,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.bucketMs = config.window_ms / BUCKETS;
    this.buckets = Array.from({ length: BUCKETS }, () => ({ slice: -1, attempts: 0, failures: 0 }));
  }

  /** Current state; an open breaker whose `open_ms` has passed reads as half-open. */
  get state(): BreakerState {
    this.advance(this.now());
    return this.current;
  }

  /** Whether an attempt may go to this deployment now. In half-open, a `true` takes a probe slot. */
  allow(): boolean {
    const now = this.now();
    this.advance(now);
    if (this.current === "closed") return true;
    if (this.current === "open") return false;
    this.probes = this.probes.filter((started) => now - started < this.config.open_ms);
    if (this.probes.length >= this.config.half_open_probes) return false;
    this.probes.push(now);
    return true;
  }

  /** Records the outcome of an attempt that `allow()` let through. */
  record(success: boolean): void {
    const now = this.now();
    this.advance(now);
    switch (this.current) {
      case "open":
        return;
      case "half_open":
        this.probes.shift();
        if (success) this.close();
        else this.open(now);
        return;
      case "closed": {
        const bucket = this.bucketAt(now);
        bucket.attempts++;
        if (!success) bucket.failures++;
        const { attempts, failures } = this.totals(now);
        if (attempts >= this.config.min_requests && failures / attempts >= this.config.failure_ratio) this.open(now);
        return;
      }
    }
  }

  /** An allowed attempt ended without an outcome that counts (client error, cancellation): frees its probe slot. */
  abandon(): void {
    this.advance(this.now());
    if (this.current === "half_open") this.probes.shift();
  }

  /**
   * Opens the breaker now for `open_ms`, whatever the window says: the caller has direct
   * evidence the deployment is unwell (it stalled). Outcomes of attempts already under way
   * are then ignored, as with any open breaker.
   */
  trip(): void {
    this.open(this.now());
  }

  /**
   * Closes the breaker now with an empty window: the caller has fresh evidence the deployment
   * is healthy again (a canary probe it answered), so traffic need not wait out `open_ms`.
   */
  reset(): void {
    this.close();
  }

  private advance(now: number): void {
    if (this.current === "open" && now - this.openedAt >= this.config.open_ms) {
      this.current = "half_open";
      this.probes = [];
    }
  }

  private open(now: number): void {
    this.current = "open";
    this.openedAt = now;
    this.probes = [];
    this.clearWindow();
  }

  private close(): void {
    this.current = "closed";
    this.probes = [];
    this.clearWindow();
  }

  private clearWindow(): void {
    for (const b of this.buckets) {
      b.slice = -1;
      b.attempts = 0;
      b.failures = 0;
    }
  }

  private bucketAt(now: number): Bucket {
    const slice = Math.floor(now / this.bucketMs);
    const bucket = this.buckets[slice % BUCKETS]!;
    if (bucket.slice !== slice) {
      bucket.slice = slice;
      bucket.attempts = 0;
      bucket.failures = 0;
    }
    return bucket;
  }

  private totals(now: number): { attempts: number; failures: number } {
    const slice = Math.floor(now / this.bucketMs);
    let attempts = 0;
    let failures = 0;
    for (const b of this.buckets) {
      if (b.slice > slice - BUCKETS && b.slice <= slice) {
        attempts += b.attempts;
        failures += b.failures;
      }
    }
    return { attempts, failures };
  }
}

import type { BulkheadConfig } from "@tiermesh/config";

/** Estimate handed out before any slot has been released. */
const DEFAULT_RETRY_AFTER_MS = 1_000;
/** Weight of the newest hold time in the running average. */
const HOLD_ALPHA = 0.2;
/** Longest delay `setTimeout` accepts; longer deadlines are re-armed in steps. */
const MAX_TIMER_MS = 2_147_483_647;

/** The bulkhead's queue is full; the request was refused without waiting. */
export class BulkheadFullError extends Error {
  override readonly name = "BulkheadFullError";

  constructor(
    /** Rough time after which a retry may find room. */
    readonly retryAfterMs: number,
  ) {
    super(`bulkhead full: all slots busy and the queue is full; retry after about ${retryAfterMs} ms`);
  }
}

/** A queued request gave up waiting for a slot, because its signal aborted or its deadline passed. */
export class BulkheadTimeoutError extends Error {
  override readonly name = "BulkheadTimeoutError";

  constructor(
    readonly waitedMs: number,
    readonly reason: "aborted" | "deadline",
    options?: { cause?: unknown },
  ) {
    super(`gave up waiting for a bulkhead slot after ${waitedMs} ms (${reason === "aborted" ? "cancelled" : "deadline passed"})`, options);
  }
}

interface Waiter {
  enqueuedAt: number;
  grant: (release: () => void) => void;
  giveUp: (reason: "aborted" | "deadline", cause?: unknown) => void;
}

/**
 * Limits provider calls in flight in this process.
 *
 * Guarantees: at most `max_concurrency` slots are held at once; at most `max_queue`
 * requests wait, and they get slots in arrival order; a request arriving at a full
 * queue is refused at once with `BulkheadFullError`. A waiter whose signal aborts or
 * whose deadline passes leaves the queue at once, freeing its place, and is rejected
 * with `BulkheadTimeoutError`; a request already aborted or past its deadline is
 * rejected the same way without taking a slot. Each granted slot comes with a release
 * function that may be called any number of times; only the first call frees the slot.
 */
export class Bulkhead {
  private active = 0;
  /** Waiters in arrival order (a Set keeps insertion order and deletes in O(1)). */
  private readonly waiters = new Set<Waiter>();
  private holdMs: number | undefined;

  constructor(
    private readonly config: BulkheadConfig,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Slots held now. */
  get inUse(): number {
    return this.active;
  }

  /** Requests waiting for a slot now. */
  get queued(): number {
    return this.waiters.size;
  }

  /** Waits for a slot until `signal` aborts or `deadlineMs` (absolute epoch ms) passes; resolves to its release function. */
  acquire(signal: AbortSignal, deadlineMs: number): Promise<() => void> {
    const start = this.now();
    if (signal.aborted) return Promise.reject(new BulkheadTimeoutError(0, "aborted", { cause: signal.reason }));
    if (deadlineMs <= start) return Promise.reject(new BulkheadTimeoutError(0, "deadline"));
    if (this.active < this.config.max_concurrency && this.waiters.size === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.size >= this.config.max_queue) return Promise.reject(new BulkheadFullError(this.retryAfterMs()));

    return new Promise<() => void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => waiter.giveUp("aborted", signal.reason);
      const leave = () => {
        this.waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        enqueuedAt: start,
        grant: (release) => {
          leave();
          resolve(release);
        },
        giveUp: (reason, cause) => {
          leave();
          reject(new BulkheadTimeoutError(Math.max(0, this.now() - start), reason, { cause }));
        },
      };
      const arm = () => {
        const left = deadlineMs - this.now();
        if (left <= 0) return waiter.giveUp("deadline");
        timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      };
      this.waiters.add(waiter);
      signal.addEventListener("abort", onAbort, { once: true });
      if (Number.isFinite(deadlineMs)) arm();
    });
  }

  /** A release function for a slot just taken: frees it once, records how long it was held, and hands it on. */
  private releaser(): () => void {
    const taken = this.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const held = Math.max(0, this.now() - taken);
      this.holdMs = this.holdMs === undefined ? held : this.holdMs + HOLD_ALPHA * (held - this.holdMs);
      this.active--;
      this.dispatch();
    };
  }

  private dispatch(): void {
    while (this.active < this.config.max_concurrency) {
      const next = this.waiters.values().next();
      if (next.done) return;
      this.active++;
      next.value.grant(this.releaser());
    }
  }

  /** Average hold time times the rounds of slot turnover the queue ahead needs. */
  private retryAfterMs(): number {
    if (this.holdMs === undefined) return DEFAULT_RETRY_AFTER_MS;
    const rounds = (this.waiters.size + 1) / this.config.max_concurrency;
    return Math.max(1, Math.ceil(this.holdMs * rounds));
  }
}

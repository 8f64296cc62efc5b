import { LatencyHistory } from "./latency-history.js";

/** Time and timers, so the detector can run on a hand-driven clock in tests. */
export interface Clock {
  /** Monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** Runs `fn` once the I/O already waiting has been handled (absent: at once). */
  afterPendingIo?(fn: () => void): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  // Timers run before the poll phase: a first token that arrived while this process was
  // busy is still unread when a check timer fires. setImmediate runs after the poll phase,
  // so the verdict sees it, and a busy executor does not mistake itself for a hung provider.
  afterPendingIo: (fn) => setImmediate(fn),
};

export interface StallSettings {
  enabled: boolean;
  ttftMultiple: number;
  minMs: number;
  /** Longest threshold, and the threshold without history; already capped at the tier's ttft_ms. */
  maxMs: number;
  /** Attempts that prove a stall together at the shorter quorum threshold; 0 = off. */
  quorum: number;
  /** The quorum threshold as a multiple of the recent p99 TTFT (clamped like the other). */
  quorumTtftMultiple: number;
}

/** What a detected stall looked like. */
export interface Stall {
  thresholdMs: number;
  /** How long the attempt that proved the stall had waited. */
  waitedMs: number;
  /** Waiting attempts aborted because of it. */
  aborted: number;
}

/** One attempt waiting for its first token, as the detector sees it. */
export interface StallWatch {
  /** The attempt got its first token: fresh evidence the deployment works. */
  firstToken(ttftMs: number): void;
  /**
   * The attempt ended without a first token. `timedOut`: its own timeout cut it, so it may
   * prove a stall by itself (then the other waiting attempts are aborted).
   */
  end(timedOut: boolean): void;
  /**
   * The attempt was cancelled before its first token (it lost a hedge race, or its caller
   * left). Its wait still says the deployment has been silent since it started: it stays
   * counted toward the quorum, as a ghost that nothing aborts, until the deployment answers
   * or the single threshold passes. So a hang is still caught while hedges rescue every
   * request from it. (A ghost alone proves nothing: nobody knows when it would have answered.)
   */
  abandon(): void;
}

interface Waiter {
  since: number;
  /** The attempt's own time-to-first-token limit. */
  limitMs: number;
  onStall: (reason: string) => void;
  /** Cancelled before its first token: evidence of silence, nothing left to abort. */
  ghost?: boolean;
}

const NO_WATCH: StallWatch = { firstToken: () => undefined, end: () => undefined, abandon: () => undefined };

/**
 * Notices, per deployment, that it stopped producing first tokens, long before the attempts'
 * own TTFT timeouts.
 *
 * Guarantees:
 * - Stall: an attempt has waited for its first token at least `thresholdMs` and the
 *   deployment produced no first token, on any attempt (probes included), since that attempt
 *   started. `thresholdMs` = clamp(ttftMultiple × recent p99 TTFT, minMs, maxMs), or `maxMs`
 *   without history (see LatencyHistory); never above `maxMs`.
 * - Quorum stall (with history only): `quorum` attempts have each waited at least
 *   `quorumThresholdMs` = clamp(quorumTtftMultiple × recent p99 TTFT, minMs, maxMs) and the
 *   deployment produced no first token since the first of them started. Each alone would
 *   happen 1 time in 100; several at once with nothing answered in between is a hang, so
 *   under traffic a hang is caught near the p99 TTFT rather than a multiple of it.
 * - On a stall, `onStall` (the deployment's reaction, e.g. opening its breaker) runs first,
 *   then every attempt still waiting is told, once, and forgotten: nothing waits on after it.
 *   An attempt whose own timeout proved the stall is not told (it ends as a timeout).
 * - Detection is within a few ms of the moment the condition holds: one check timer per
 *   deployment, set only while attempts wait, none when idle. An attempt whose own TTFT limit
 *   is not above the threshold is left to its timeout, which then proves the stall (`end(true)`).
 * - `stalled` stays true from a stall until the deployment's next first token or `reset()`.
 * - Disabled: no timers, never a stall; first tokens are still recorded.
 */
export class StallDetector {
  private readonly waiters = new Set<Waiter>();
  private readonly history: LatencyHistory;
  private lastFirstTokenAt = -Infinity;
  private timer: unknown;
  private timerAt = Infinity;
  private timerToken = 0;
  private stalledAt: number | undefined;
  private stallCount = 0;

  constructor(
    private readonly settings: StallSettings,
    private readonly clock: Clock,
    private readonly onStall: (stall: Stall) => void = () => undefined,
  ) {
    this.history = new LatencyHistory(() => clock.now());
  }

  /** The current stall threshold, in ms. */
  get thresholdMs(): number {
    const { ttftMultiple, minMs, maxMs } = this.settings;
    const p99 = this.history.p99;
    if (p99 === undefined) return maxMs;
    return Math.min(maxMs, Math.max(minMs, ttftMultiple * p99));
  }

  /** The quorum threshold in ms; undefined without history or when the quorum is off. */
  get quorumThresholdMs(): number | undefined {
    const { quorum, quorumTtftMultiple, minMs, maxMs } = this.settings;
    const p99 = this.history.p99;
    if (quorum < 1 || p99 === undefined) return undefined;
    return Math.min(maxMs, Math.max(minMs, quorumTtftMultiple * p99));
  }

  /** Stalled, and for less than `holdMs`: keep users' requests away until it answers again. */
  holdsOff(holdMs: number): boolean {
    return this.stalledAt !== undefined && this.clock.now() - this.stalledAt < holdMs;
  }

  /** A stall was detected and the deployment has produced no first token since. */
  get stalled(): boolean {
    return this.stalledAt !== undefined;
  }

  /** Stalls detected since start. */
  get stalls(): number {
    return this.stallCount;
  }

  /** Attempts waiting for their first token (ghosts of cancelled ones not included). */
  get waiting(): number {
    let n = 0;
    for (const w of this.waiters) if (!w.ghost) n++;
    return n;
  }

  /** Whether a check timer is set (for tests: none while idle). */
  get checking(): boolean {
    return this.timer !== undefined;
  }

  /** Watches an attempt from now until its first token or its end; `onStall` aborts it. */
  watch(limitMs: number, onStall: (reason: string) => void): StallWatch {
    if (!this.settings.enabled) return NO_WATCH;
    const waiter: Waiter = { since: this.clock.now(), limitMs, onStall };
    this.waiters.add(waiter);
    this.schedule();
    return {
      firstToken: (ttftMs) => {
        this.waiters.delete(waiter);
        this.firstToken(ttftMs);
      },
      abandon: () => {
        if (!this.waiters.has(waiter)) return;
        waiter.ghost = true;
      },
      end: (timedOut) => {
        if (!this.waiters.has(waiter) || waiter.ghost) return;
        const threshold = this.thresholdMs;
        const waited = this.clock.now() - waiter.since;
        if (timedOut && this.silentSince(waiter) && (waiter.limitMs >= threshold || waited >= threshold)) {
          this.declare(threshold, waited, waiter);
        } else {
          this.waiters.delete(waiter);
          this.schedule();
        }
      },
    };
  }

  /** A first token from any attempt on the deployment (probes included). */
  firstToken(ttftMs: number): void {
    this.lastFirstTokenAt = this.clock.now();
    this.stalledAt = undefined;
    this.history.record(ttftMs);
    // Ghosts only ever stood for silence, which is now over.
    for (const w of this.waiters) if (w.ghost) this.waiters.delete(w);
    // A check already set may now fire early; it then finds no stall and reschedules.
    if (this.waiters.size === 0) this.cancelTimer();
  }

  /** Fresh evidence the deployment works (a canary probe it answered): forget the stall. */
  reset(): void {
    this.stalledAt = undefined;
    this.lastFirstTokenAt = this.clock.now();
  }

  /** No first token from the deployment since `t` (the detector's clock, performance.now()). */
  quietSince(t: number): boolean {
    return this.lastFirstTokenAt <= t;
  }

  /** No first token from the deployment since `waiter` started. */
  private silentSince(waiter: Waiter): boolean {
    return this.lastFirstTokenAt <= waiter.since;
  }

  private schedule(): void {
    if (this.waiters.size === 0) {
      this.cancelTimer();
      return;
    }
    const threshold = this.thresholdMs;
    let due = Infinity;
    this.pruneGhosts(threshold);
    for (const w of this.waiters) {
      // Waiters are in start order: the first eligible one is due first.
      if (!w.ghost && this.silentSince(w) && w.limitMs > threshold) {
        due = w.since + threshold;
        break;
      }
    }
    const quorumAt = this.quorumWaiter(this.quorumThresholdMs);
    if (quorumAt !== undefined) due = Math.min(due, quorumAt.since + this.quorumThresholdMs!);
    // An earlier check is set: it reschedules when it fires.
    if (this.timer !== undefined && this.timerAt <= due) return;
    this.cancelTimer();
    if (due === Infinity) return;
    this.timerAt = due;
    const token = ++this.timerToken;
    // A check cancelled while its verdict waits for pending I/O does not run.
    const run = () => token === this.timerToken && this.check();
    this.timer = this.clock.setTimeout(
      () => (this.clock.afterPendingIo ? this.clock.afterPendingIo(run) : run()),
      Math.max(0, Math.ceil(due - this.clock.now())),
    );
  }

  private check(): void {
    this.timer = undefined;
    this.timerAt = Infinity;
    const now = this.clock.now();
    const threshold = this.thresholdMs;
    this.pruneGhosts(threshold);
    for (const w of this.waiters) {
      if (now - w.since < threshold) break;
      if (!w.ghost && this.silentSince(w)) {
        this.declare(threshold, now - w.since);
        return;
      }
    }
    const quorumThreshold = this.quorumThresholdMs;
    const last = this.quorumWaiter(quorumThreshold);
    if (last !== undefined && now - last.since >= quorumThreshold!) {
      const first = [...this.waiters].find((w) => this.silentSince(w))!;
      this.declare(quorumThreshold!, now - first.since, undefined, this.settings.quorum);
      return;
    }
    this.schedule();
  }

  /** Ghosts past the single threshold are forgotten (and with them what they might have said). */
  private pruneGhosts(threshold: number): void {
    const now = this.clock.now();
    for (const w of this.waiters) if (w.ghost && now - w.since >= threshold) this.waiters.delete(w);
  }

  /**
   * The waiter that completes the quorum: the `quorum`-th oldest of those the deployment has
   * been silent for (whose own limit is above the quorum threshold). Waiters are in start
   * order, so when it is silent, every older one is too.
   */
  private quorumWaiter(threshold: number | undefined): Waiter | undefined {
    if (threshold === undefined) return undefined;
    let n = 0;
    for (const w of this.waiters) {
      if (!this.silentSince(w) || w.limitMs <= threshold) continue;
      if (++n === this.settings.quorum) return w;
    }
    return undefined;
  }

  private declare(thresholdMs: number, waitedMs: number, proof?: Waiter, quorum?: number): void {
    const victims = [...this.waiters].filter((w) => w !== proof && !w.ghost);
    this.waiters.clear();
    this.cancelTimer();
    this.stallCount++;
    this.stalledAt = this.clock.now();
    this.onStall({ thresholdMs, waitedMs, aborted: victims.length });
    const reason = quorum
      ? `${quorum} attempts without a first token, the oldest for ${Math.round(waitedMs)} ms (quorum stall threshold ${Math.round(thresholdMs)} ms)`
      : `no first token for ${Math.round(waitedMs)} ms (stall threshold ${Math.round(thresholdMs)} ms)`;
    for (const w of victims) w.onStall(reason);
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerToken++;
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}

import { LatencyHistory } from "./latency-history.js";
import type { Clock } from "./stall-detector.js";

export interface InterTokenSettings {
  enabled: boolean;
  /** Threshold as a multiple of the deployment's recent p99 gap between tokens. */
  multiple: number;
  minMs: number;
  /** Longest threshold, and the threshold without history; already capped at the tier's attempt_ms. */
  maxMs: number;
}

/** One started stream, as the watch sees it. */
export interface PaceWatch {
  /** A token (text piece) arrived. */
  token(): void;
  /** The stream is over, however it ended. */
  stop(): void;
}

const NO_WATCH: PaceWatch = { token: () => undefined, stop: () => undefined };

/**
 * Notices, per deployment, a stream that started and then went silent: its own pace between
 * tokens says how long a silence may be.
 *
 * Guarantees:
 * - Each watched stream's gaps between tokens feed the deployment's recent history (a
 *   stall's own silence never does).
 * - A watched stream with no token for `thresholdMs` = clamp(multiple × recent p99 gap,
 *   minMs, maxMs) (`maxMs` without enough history) is told once, within a few ms, with the
 *   reason; it is then no longer watched.
 * - One timer per watched stream, moved when it fires or every 16 tokens (never on each
 *   token); none after `stop()`. Disabled: no timers, no history, never a stall.
 */
export class InterTokenStall {
  private readonly history: LatencyHistory;
  private stallCount = 0;

  constructor(
    private readonly settings: InterTokenSettings,
    private readonly clock: Clock,
  ) {
    this.history = new LatencyHistory(() => clock.now());
  }

  /** Streams are watched (and their silences cut). */
  get enabled(): boolean {
    return this.settings.enabled;
  }

  /** The current threshold, in ms. */
  get thresholdMs(): number {
    const { multiple, minMs, maxMs } = this.settings;
    const p99 = this.history.p99;
    if (p99 === undefined) return maxMs;
    return Math.min(maxMs, Math.max(minMs, multiple * p99));
  }

  /** Streams cut as stalled since start. */
  get stalls(): number {
    return this.stallCount;
  }

  /** Watches a stream from its first token on; `onStall` runs once if it goes silent. */
  watch(onStall: (reason: string) => void): PaceWatch {
    if (!this.settings.enabled) return NO_WATCH;
    const { clock } = this;
    let last = clock.now();
    let tokens = 1;
    let timer: unknown;
    let dueAt = Infinity;
    const arm = (ms: number) => {
      dueAt = clock.now() + ms;
      timer = clock.setTimeout(check, Math.max(0, Math.ceil(ms)));
    };
    const check = () => {
      timer = undefined;
      const threshold = this.thresholdMs;
      const silent = clock.now() - last;
      if (silent < threshold) return arm(threshold - silent);
      this.stallCount++;
      onStall(`no token for ${Math.round(silent)} ms after ${tokens} token(s) (inter-token stall threshold ${Math.round(threshold)} ms)`);
    };
    arm(this.thresholdMs);
    return {
      token: () => {
        if (timer === undefined) return;
        const now = clock.now();
        this.history.record(now - last);
        last = now;
        // Now and then: history may have lowered the threshold (a first stream starts at maxMs).
        if (++tokens % 16 === 0) {
          const threshold = this.thresholdMs;
          if (dueAt > now + threshold) {
            clock.clearTimeout(timer);
            arm(threshold);
          }
        }
      },
      stop: () => {
        if (timer !== undefined) clock.clearTimeout(timer);
        timer = undefined;
      },
    };
  }
}

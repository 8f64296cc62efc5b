export interface RestartBackoffOptions {
  /** Delay before the first restart after a crash. */
  initialMs: number;
  /** Longest delay between restarts; a crash loop keeps retrying at this pace. */
  maxMs: number;
  /** Growth of the delay from one consecutive crash to the next. */
  multiplier: number;
  /** Fraction (0–1) of each delay taken off at random, so processes that die together do not restart in step. */
  jitter: number;
  /** A process that stayed up this long before dying starts the sequence afresh. */
  resetAfterMs: number;
  /** This many consecutive crashes, each sooner than `resetAfterMs`, make a crash loop. */
  crashLoopAfter: number;
}

export const defaultRestartBackoff: RestartBackoffOptions = {
  initialMs: 250,
  maxMs: 30_000,
  multiplier: 2,
  jitter: 0.2,
  resetAfterMs: 30_000,
  crashLoopAfter: 5,
};

export interface RestartDecision {
  /** Consecutive crashes so far, this one included (1 after a process that had been up a while). */
  consecutive: number;
  delayMs: number;
  /** True once the process keeps dying soon after each restart. */
  crashLoop: boolean;
}

/**
 * Delay before restart number `consecutive` (1-based): exponential, capped at `maxMs`, with
 * up to `jitter` of it taken off at random (`random` in [0, 1)), so it never exceeds the cap.
 */
export function restartDelay(consecutive: number, options: RestartBackoffOptions, random: number): number {
  const exponent = Math.max(0, consecutive - 1);
  const base = Math.min(options.maxMs, options.initialMs * options.multiplier ** exponent);
  return Math.round(base * (1 - options.jitter * random));
}

/** Restart pacing for one supervised process: exponential backoff with jitter, reset after a good run. */
export class RestartBackoff {
  private readonly options: RestartBackoffOptions;
  private consecutive = 0;

  constructor(
    options: Partial<RestartBackoffOptions> = {},
    private readonly random: () => number = Math.random,
  ) {
    this.options = { ...defaultRestartBackoff, ...options };
  }

  /** Records a crash of a process that had been up `uptimeMs`, and says how long to wait before restarting it. */
  next(uptimeMs: number): RestartDecision {
    if (uptimeMs >= this.options.resetAfterMs) this.consecutive = 0;
    this.consecutive += 1;
    return {
      consecutive: this.consecutive,
      delayMs: restartDelay(this.consecutive, this.options, this.random()),
      crashLoop: this.consecutive >= this.options.crashLoopAfter,
    };
  }
}

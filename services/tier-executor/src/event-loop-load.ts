import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from "node:perf_hooks";

/** How loaded this process's event loop was over the last window. */
export interface LoopLoad {
  /** Share of the window the loop was busy running code (0 to 1). */
  utilization: number;
  /** p99 of how late timers ran, ms: high when the loop is busy or the process gets no CPU. */
  delayP99Ms: number;
}

const IDLE: LoopLoad = { utilization: 0, delayP99Ms: 0 };

/**
 * Samples the event loop's utilization (`performance.eventLoopUtilization`) and delay
 * (`monitorEventLoopDelay`) every `windowMs`, so job intake can stay away from a loop that
 * interactive streams already keep busy.
 */
export class EventLoopLoad {
  private latest: LoopLoad = IDLE;
  private last: EventLoopUtilization | undefined;
  private delay: IntervalHistogram | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly windowMs = 500) {}

  /** The last full window's figures (idle until one has passed). */
  get load(): LoopLoad {
    return this.latest;
  }

  start(): void {
    if (this.timer) return;
    this.delay = monitorEventLoopDelay({ resolution: 10 });
    this.delay.enable();
    this.last = performance.eventLoopUtilization();
    this.timer = setInterval(() => this.sample(), this.windowMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    this.delay?.disable();
    this.latest = IDLE;
  }

  /** Closes the current window (also called by the timer). */
  sample(): void {
    if (!this.delay || !this.last) return;
    const now = performance.eventLoopUtilization();
    const { utilization } = performance.eventLoopUtilization(now, this.last);
    this.last = now;
    this.latest = { utilization, delayP99Ms: this.delay.count > 0 ? this.delay.percentile(99) / 1e6 : 0 };
    this.delay.reset();
  }
}

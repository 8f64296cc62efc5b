import type { BatchRecord } from "@tiermesh/jobs";

interface SweepLogger {
  warn(obj: object, msg: string): void;
}

export interface OrphanBatchSweepOptions {
  /** Looks for orphaned batches once and resumes them (BatchDesk.resumeOrphans). */
  resumeOrphans: () => Promise<BatchRecord[]>;
  /** Mean time between two looks; each wait is jittered by ±25% so routers do not look in step. */
  intervalMs: number;
  logger: SweepLogger;
  random?: () => number;
}

/**
 * Resumes Batch API batches left validating by a router that stopped, in the background, so
 * an accepted batch runs whether or not its caller asks for it. Every router sweeps: any
 * one of them that lives is enough, and two resuming one batch queue each line once.
 */
export class OrphanBatchSweep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly options: OrphanBatchSweepOptions) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private schedule(): void {
    const random = this.options.random ?? Math.random;
    const wait = this.options.intervalMs * (0.75 + random() / 2);
    this.timer = setTimeout(() => {
      this.running = this.options
        .resumeOrphans()
        .then(
          () => undefined,
          (err: unknown) => this.options.logger.warn({ err }, "could not look for batches left validating; trying again"),
        )
        .then(() => {
          if (!this.stopped) this.schedule();
        });
    }, wait);
    this.timer.unref();
  }
}

import { isFinal } from "../job-states.js";
import { type BatchStores, expireOpenJobs, finishBatch, isOpenBatch, readBatchJobs, windowPassed } from "./batch-settle.js";

interface FinaliserLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface BatchFinaliserOptions {
  /** Time between two looks at the open batches. */
  intervalMs: number;
  /** Whether this process may end batches now (the monitor's leader lease); checked before each. */
  mayWrite: () => boolean;
  logger: FinaliserLogger;
}

/**
 * Ends Batch API batches in the background, so a caller who comes back later finds the
 * output and error files written and `completed_at` set when the last request ended, not when
 * it asked: every `intervalMs`, each open batch is looked at, and once all its jobs are final
 * it is finished (see finishBatch). A batch whose completion window passed is ended too: its
 * jobs not yet final expire, the finished ones go to its output file, and it is `expired`.
 * Cheap while batches run: jobs are read in input order from the first one not yet seen
 * final (a final job never changes), so a look usually reads one job per batch.
 */
export class BatchFinaliser {
  /** Per open batch, how many of its first jobs are known final. */
  private readonly cursors = new Map<string, number>();
  /** Batches known ended (never looked at again by this process). */
  private readonly ended = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private stores: BatchStores | undefined;
  private running: Promise<void> | undefined;
  /** The run that may go on; a stopped run sees another (or none) here and ends. */
  private run: object | undefined;

  constructor(private readonly options: BatchFinaliserOptions) {}

  start(stores: BatchStores): void {
    this.stores = stores;
    if (this.timer) return;
    const run = {};
    this.run = run;
    const tick = () => {
      this.running = this.sweep()
        .then(
          (n) => n > 0 && this.options.logger.info({ ended: n }, "batches ended in the background"),
          (err: unknown) => this.options.logger.warn({ err }, "could not look at the open batches; trying again"),
        )
        .then(() => {
          if (this.run === run) this.timer = setTimeout(tick, this.options.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.run = undefined;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
    // A later leader starts from what the records say.
    this.cursors.clear();
  }

  /** Looks at every open batch once; returns how many it ended. */
  async sweep(now = Date.now()): Promise<number> {
    const stores = this.stores;
    if (!stores) return 0;
    let endedNow = 0;
    for (const { tenant, id } of await stores.batches.all()) {
      if (this.ended.has(id) || !this.options.mayWrite()) continue;
      const batch = await stores.batches.get(tenant, id);
      if (!batch) continue;
      if (!isOpenBatch(batch)) {
        if (batch.status !== "validating") this.ended.add(id);
        continue;
      }
      const expiring = windowPassed(batch, now);
      if (!expiring && !(await this.allFinal(stores, batch.tenant, id, batch.jobs))) continue;
      let jobs = await readBatchJobs(stores.jobs, batch);
      if (expiring) jobs = await expireOpenJobs(stores.jobs, batch, jobs);
      if (!jobs.every((j) => j === undefined || isFinal(j.state))) continue;
      if (!this.options.mayWrite()) continue;
      const after = await finishBatch(stores, batch, jobs);
      this.cursors.delete(id);
      if (!isOpenBatch(after)) {
        this.ended.add(id);
        endedNow++;
      }
    }
    return endedNow;
  }

  /** Moves the batch's cursor past its jobs that are final; true once it passed them all. */
  private async allFinal(stores: BatchStores, tenant: string, id: string, jobs: readonly { job_id: string }[]): Promise<boolean> {
    let cursor = this.cursors.get(id) ?? 0;
    while (cursor < jobs.length) {
      const job = await stores.jobs.get(tenant, jobs[cursor]!.job_id);
      if (job && !isFinal(job.state)) break;
      cursor++;
    }
    this.cursors.set(id, cursor);
    return cursor >= jobs.length;
  }
}

import { create } from "@bufbuild/protobuf";
import { JobBacklogSchema, type JobBacklog } from "@tiermesh/proto";
import type { JobQueue } from "./job-queue.js";

/** Figures older than this are not shown (the stream could not be read since). */
const STALE_AFTER_INTERVALS = 3;

/**
 * Reads each async tier's backlog from the jobs stream every `intervalMs` (queued, in
 * progress, oldest age, dead letters), so metrics and tier status show it without a NATS
 * round trip of their own.
 */
export class BacklogSampler {
  private readonly latest = new Map<string, JobBacklog>();
  private timer: NodeJS.Timeout | undefined;
  private queue: JobQueue | undefined;

  constructor(
    readonly tiers: readonly string[],
    private readonly intervalMs = 2_000,
  ) {}

  attach(queue: JobQueue): void {
    this.queue = queue;
    if (this.timer || this.tiers.length === 0) return;
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
    this.timer.unref();
    void this.sample();
  }

  /** The tier's latest backlog, or undefined when it takes no jobs or could not be read lately. */
  of(tier: string): JobBacklog | undefined {
    const b = this.latest.get(tier);
    return b && Date.now() - Number(b.sampledAtMs) <= this.intervalMs * STALE_AFTER_INTERVALS ? b : undefined;
  }

  close(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads every tier now (also called by the timer). */
  async sample(): Promise<void> {
    const queue = this.queue;
    if (!queue) return;
    await Promise.all(
      this.tiers.map(async (tier) => {
        const [backlog, oldest, dead] = await Promise.all([queue.backlog(tier), queue.oldestQueuedAt(tier), queue.deadLettered(tier)]);
        const now = Date.now();
        this.latest.set(
          tier,
          create(JobBacklogSchema, {
            queued: backlog?.pending ?? 0,
            inProgress: backlog?.inProgress ?? 0,
            oldestQueuedAgeMs: BigInt(oldest === undefined ? 0 : Math.max(0, now - oldest)),
            deadLettered: dead,
            sampledAtMs: BigInt(now),
          }),
        );
      }),
    ).catch(() => undefined);
  }
}

import { JobState } from "@tiermesh/proto";
import type { JobBackend } from "./job-backend.js";
import type { DeadLetter } from "./job-queue.js";

/** What became of one dead letter asked to be replayed. */
export interface ReplayOutcome {
  id: string;
  tenant: string;
  tier: string;
  /**
   * - `replayed`: queued again (its record reopened, or recreated from the dead letter when no longer kept);
   * - `requeued`: a replay that stopped before queuing it, queued now;
   * - `settled`: the job is no longer failed (replayed before): nothing queued, the stale dead letter removed.
   */
  outcome: "replayed" | "requeued" | "settled";
  /** The job's replays after this one. */
  replays: number;
}

/**
 * Queues dead-lettered jobs again, one after the other, and removes each dead letter once
 * its job is queued: the job keeps its id (so a caller still sees exactly one result, now
 * the replay's) and gets a fresh window and deliveries (see JobStore.replay). Safe to run
 * again after a stop halfway: a job reopened but not yet queued is queued, and a dead letter
 * whose job moved on is only removed.
 */
export async function replayDeadLetters(backend: JobBackend, letters: readonly DeadLetter[], now = Date.now()): Promise<ReplayOutcome[]> {
  const { store, queue } = backend;
  const out: ReplayOutcome[] = [];
  for (const letter of letters) {
    const { tenant, id, tier } = letter.job;
    // A record past its retention is rebuilt from the dead letter, which holds the job as it failed.
    if (!(await store.get(tenant, id))) await store.create(letter.job);
    const r = await store.replay(tenant, id, now);
    const job = r.job;
    let outcome: ReplayOutcome["outcome"] = "settled";
    if (job && r.changed) {
      await queue.enqueue(job);
      outcome = "replayed";
    } else if (job?.state === JobState.QUEUED && job.attempts === 0 && job.replays > 0) {
      await queue.enqueue(job);
      outcome = "requeued";
    }
    await queue.dropDeadLetter(letter.seq);
    out.push({ id, tenant, tier, outcome, replays: job?.replays ?? 0 });
  }
  return out;
}

import { create } from "@bufbuild/protobuf";
import { JobErrorSchema, JobState, type Job } from "@tiermesh/proto";
import type { FileStore } from "../file-store.js";
import { isJobId } from "../job-names.js";
import { isFinal } from "../job-states.js";
import type { JobStore } from "../job-store.js";
import type { JsonRecords } from "../json-records.js";
import { batchOutputs } from "./batch-output.js";
import { BATCH_EXPIRED, type BatchRecord } from "./batch-record.js";

/** What ending a batch reads and writes. */
export interface BatchStores {
  jobs: JobStore;
  files: FileStore;
  batches: JsonRecords<BatchRecord>;
}

const READ_PARALLEL = 64;
const nowS = () => Math.floor(Date.now() / 1_000);

/** A batch whose jobs run (or are being cancelled): it ends once they are all final, or its window passes. */
export const isOpenBatch = (b: BatchRecord) => b.status === "in_progress" || b.status === "cancelling" || b.status === "finalizing";

/** True once a batch's completion window (`expires_at`) has passed. */
export const windowPassed = (b: BatchRecord, now = Date.now()) => now >= b.expires_at * 1_000;

/** Calls `each` for every job of a batch, a few at a time. */
export async function forBatchJobs(batch: BatchRecord, each: (jobId: string, index: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < batch.jobs.length; i += READ_PARALLEL) {
    await Promise.all(
      batch.jobs.slice(i, i + READ_PARALLEL).map((j, k) => (isJobId(j.job_id) ? each(j.job_id, i + k) : Promise.resolve())),
    );
  }
}

/** The job of each accepted line, in input order (undefined: no longer kept). */
export async function readBatchJobs(store: JobStore, batch: BatchRecord): Promise<(Job | undefined)[]> {
  const jobs = new Array<Job | undefined>(batch.jobs.length);
  await forBatchJobs(batch, async (jobId, i) => {
    jobs[i] = await store.get(batch.tenant, jobId);
  });
  return jobs;
}

/** The batch's request counts from its jobs: succeeded, failed (refused lines included), and jobs final. */
export function batchCounts(batch: BatchRecord, jobs: readonly (Job | undefined)[]) {
  const succeeded = jobs.filter((j) => j?.state === JobState.SUCCEEDED).length;
  const finished = jobs.filter((j) => j === undefined || isFinal(j.state)).length;
  return { succeeded, finished, failed: batch.line_errors.length + finished - succeeded, allFinal: finished === jobs.length };
}

/**
 * Expires the jobs of a batch whose window passed that are not final yet (a running one is
 * stopped by its executor at its next heartbeat); returns the jobs as stored afterwards.
 */
export async function expireOpenJobs(
  store: JobStore,
  batch: BatchRecord,
  jobs: readonly (Job | undefined)[],
): Promise<(Job | undefined)[]> {
  const error = create(JobErrorSchema, {
    code: "deadline_exceeded",
    message: "the batch's completion window passed before the request finished",
  });
  const out = [...jobs];
  await forBatchJobs(batch, async (jobId, i) => {
    const job = out[i];
    if (!job || isFinal(job.state)) return;
    const r = await store.update(batch.tenant, jobId, (j) => ({ ...j, state: JobState.EXPIRED, finishedAtMs: BigInt(Date.now()), error }));
    out[i] = r.job;
  });
  return out;
}

/**
 * Ends a batch whose jobs are all final: writes its output and error files, then sets its
 * final status (`cancelled` when it was being cancelled, `expired` when a request expired,
 * else `completed`). Done at most once whoever does it (a router asked for the batch, the
 * leading monitor's finaliser): files have fixed ids and the same content, and the record
 * changes by compare-and-set from an open status only. Returns the record afterwards.
 */
export async function finishBatch(stores: BatchStores, batch: BatchRecord, jobs: readonly (Job | undefined)[]): Promise<BatchRecord> {
  const { succeeded, failed } = batchCounts(batch, jobs);
  const finalizingAt = nowS();
  const { output, errors } = batchOutputs(batch, jobs);
  const stem = batch.id.slice("batch_".length);
  const put = (suffix: string, filename: string, data: Uint8Array) =>
    data.length > 0
      ? stores.files.put({ id: `file-${stem}-${suffix}`, tenant: batch.tenant, filename, purpose: "batch_output" }, data)
      : undefined;
  const outputFile = await put("output", `${batch.id}_output.jsonl`, output);
  const errorFile = await put("errors", `${batch.id}_error.jsonl`, errors);
  // A line not queued before the window passed (its batch was still validating) expired too.
  const expired = jobs.some((j) => j?.state === JobState.EXPIRED) || batch.line_errors.some((e) => e.code === BATCH_EXPIRED);
  const done = nowS();
  return (
    (await stores.batches.update(batch.tenant, batch.id, (b) => {
      if (!isOpenBatch(b)) return undefined;
      const end =
        b.status === "cancelling"
          ? { status: "cancelled" as const, cancelled_at: done }
          : expired
            ? { status: "expired" as const, expired_at: done }
            : { status: "completed" as const, completed_at: done };
      return {
        ...b,
        ...end,
        finalizing_at: finalizingAt,
        completed: succeeded,
        failed,
        output_file_id: outputFile?.id ?? null,
        error_file_id: errorFile?.id ?? null,
      };
    })) ?? batch
  );
}

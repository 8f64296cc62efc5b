import { create } from "@bufbuild/protobuf";
import { CompleteResponseSchema, JobSchema, JobState, type Job } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { FileStore } from "../file-store.js";
import { newJobId } from "../job-names.js";
import { JobStore } from "../job-store.js";
import { JsonRecords } from "../json-records.js";
import { BatchFinaliser } from "./batch-finaliser.js";
import { batchRecordSchema, newBatchId, type BatchRecord } from "./batch-record.js";
import type { BatchStores } from "./batch-settle.js";
import { useNatsServer } from "../../../../test/support/nats-fixture.js";

// A real nats-server with JetStream (never a mocked broker).
let run = 0;
const HOUR = 3_600_000;
const silent = { info: () => undefined, warn: () => undefined };

const nats = useNatsServer();

async function stores(): Promise<BatchStores> {
  run++;
  const [jobs, files, batches] = await Promise.all([
    JobStore.open(nats.nc, `fin_jobs${run}`, HOUR),
    FileStore.open(nats.nc, `fin_files${run}`, HOUR),
    JsonRecords.open(nats.nc, `fin_jobs${run}`, HOUR, "batches", (v) => batchRecordSchema.parse(v)),
  ]);
  return { jobs, files, batches };
}

/** An in-progress batch of `n` queued jobs. */
async function batchOf(
  s: BatchStores,
  n: number,
  expiresAt = Math.floor(Date.now() / 1_000) + 3_600,
): Promise<{ batch: BatchRecord; jobs: Job[] }> {
  const id = newBatchId();
  const jobs = Array.from({ length: n }, (_, i) =>
    create(JobSchema, { id: newJobId(), tenant: "acme", tier: "bronze", state: JobState.QUEUED, metadata: { custom_id: `r${i}` } }),
  );
  for (const j of jobs) await s.jobs.create(j);
  const now = Math.floor(Date.now() / 1_000);
  const batch = batchRecordSchema.parse({
    id,
    tenant: "acme",
    endpoint: "/v1/chat/completions",
    input_file_id: "file-input",
    completion_window: "24h",
    status: "in_progress",
    created_at: now,
    expires_at: expiresAt,
    in_progress_at: now,
    ...Object.fromEntries(
      ["finalizing_at", "completed_at", "failed_at", "expired_at", "cancelling_at", "cancelled_at", "output_file_id", "error_file_id"].map(
        (k) => [k, null],
      ),
    ),
    metadata: null,
    total: n,
    jobs: jobs.map((j, i) => ({ custom_id: `r${i}`, job_id: j.id })),
    line_errors: [],
    completed: 0,
    failed: 0,
  });
  await s.batches.create("acme", id, batch);
  return { batch, jobs };
}

const succeed = (s: BatchStores, j: Job) =>
  s.jobs.update("acme", j.id, (x) => ({
    ...x,
    state: JobState.SUCCEEDED,
    finishedAtMs: BigInt(Date.now()),
    result: create(CompleteResponseSchema, { id: j.id, content: "done", model: "m" }),
  }));

const text = async (s: BatchStores, id: string | null) =>
  new TextDecoder().decode((await s.files.content("acme", id!)) ?? new Uint8Array());

describe("BatchFinaliser", () => {
  it("completes a batch once its last job ended, writing its output file, only while it may write", async () => {
    const s = await stores();
    let leading = false;
    const finaliser = new BatchFinaliser({ intervalMs: 60_000, mayWrite: () => leading, logger: silent });
    finaliser.start(s);
    const { batch, jobs } = await batchOf(s, 3);
    await succeed(s, jobs[0]!);
    await succeed(s, jobs[2]!);
    leading = true;
    expect(await finaliser.sweep()).toBe(0);
    await succeed(s, jobs[1]!);
    leading = false;
    expect(await finaliser.sweep()).toBe(0);
    expect((await s.batches.get("acme", batch.id))?.status).toBe("in_progress");
    leading = true;
    expect(await finaliser.sweep()).toBe(1);
    const done = (await s.batches.get("acme", batch.id))!;
    expect(done).toMatchObject({ status: "completed", completed: 3, failed: 0, error_file_id: null });
    expect(done.completed_at).toBeGreaterThanOrEqual(batch.created_at);
    expect((await text(s, done.output_file_id)).trim().split("\n")).toHaveLength(3);
    expect(await finaliser.sweep()).toBe(0);
    await finaliser.stop();
  });

  it("expires a batch whose window passed: finished requests in the output file, the others expired", async () => {
    const s = await stores();
    const finaliser = new BatchFinaliser({ intervalMs: 60_000, mayWrite: () => true, logger: silent });
    finaliser.start(s);
    const { batch, jobs } = await batchOf(s, 3, Math.floor(Date.now() / 1_000) - 1);
    await succeed(s, jobs[1]!);
    expect(await finaliser.sweep()).toBe(1);
    const ended = (await s.batches.get("acme", batch.id))!;
    expect(ended).toMatchObject({ status: "expired", completed: 1, failed: 2 });
    expect((await s.jobs.get("acme", jobs[0]!.id))?.state).toBe(JobState.EXPIRED);
    expect(JSON.parse(await text(s, ended.output_file_id))).toMatchObject({ custom_id: "r1", error: null });
    const errors = (await text(s, ended.error_file_id))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { custom_id: string; error: { code: string } });
    expect(errors.map((e) => [e.custom_id, e.error.code])).toEqual([
      ["r0", "batch_expired"],
      ["r2", "batch_expired"],
    ]);
    await finaliser.stop();
  });
});

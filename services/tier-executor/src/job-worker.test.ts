import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Config } from "@tiermesh/config";
import { newJobId, openJobBackend, type JobBackend } from "@tiermesh/jobs";
import { CompletionInputSchema, JobSchema, JobState, type Job } from "@tiermesh/proto";
import { createLogger } from "@tiermesh/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { answering, failing, FakeProvider, hung, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import type { LoopLoad } from "./event-loop-load.js";
import { JobWorker } from "./job-worker.js";
import { TierRunner } from "./tier-runner.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

// A real nats-server (never a mocked broker); a real runner over a fake provider.
const workers: JobWorker[] = [];
let run = 0;

const nats = useNatsServer();
afterEach(async () => {
  await Promise.all(workers.splice(0).map((w) => w.close()));
});

const ACK_WAIT_MS = 1_000;

/** A worker for tier gold on streams of its own, its model behaving as told. */
async function setup(behaviour: Behaviour, loop?: () => LoopLoad) {
  run++;
  const tier = tierOf(["m"], {
    async: { enabled: true, max_concurrency: 2, max_deliveries: 2, ack_wait_ms: ACK_WAIT_MS, event_loop_delay_below_ms: 100 },
    retries: { max_attempts: 1 },
    stall: { enabled: false },
  });
  const config: Pick<Config, "tiers" | "nats"> = {
    tiers: { gold: tier },
    nats: {
      url: nats.server.url,
      subject_prefix: `t${run}`,
      kv_bucket: "status",
      jobs_stream: `JOBS${run}`,
      jobs_bucket: `jobs${run}`,
      files_bucket: `files${run}`,
    },
  };
  const provider = new FakeProvider({ m: behaviour });
  const runner = new TierRunner({ tierName: "gold", tier, providers: new Map([["fake", provider]]), report: () => undefined });
  const backend = await openJobBackend(nats.nc, config);
  const consumer = backend.queue.consumer({ tier: "gold", maxDeliver: 3, ackWaitMs: ACK_WAIT_MS });
  const worker = new JobWorker({
    tier: "gold",
    config: tier.async,
    bulkheadCapacity: 10,
    runner,
    backend,
    consumer,
    runTimeoutMs: 5_000,
    ...(loop ? { loop } : {}),
    logger: createLogger("test", "silent"),
  });
  workers.push(worker);
  return { backend, worker, provider };
}

async function submit(backend: JobBackend, init: Omit<MessageInitShape<typeof JobSchema>, "$typeName"> = {}): Promise<Job> {
  const now = Date.now();
  const job = create(JobSchema, {
    id: newJobId(),
    tenant: "acme",
    tier: "gold",
    state: JobState.QUEUED,
    input: { messages: [{ role: "user", content: "hello" }] },
    createdAtMs: BigInt(now),
    deadlineMs: BigInt(now + 60_000),
    ...init,
  });
  await backend.store.create(job);
  await backend.queue.enqueue(job);
  return job;
}

async function until<T>(check: () => Promise<T | undefined>, timeoutMs = 8_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 25));
  }
}
const stateOf = (backend: JobBackend, job: Job, state: JobState) =>
  until(async () => {
    const j = await backend.store.get(job.tenant, job.id);
    return j?.state === state ? j : undefined;
  });

describe("JobWorker", () => {
  it("runs a job, stores its result and acknowledges it (no redelivery)", async () => {
    const { backend, worker, provider } = await setup(answering(5, ["Hi", " there"]));
    worker.start();
    const job = await submit(backend);
    const done = await stateOf(backend, job, JobState.SUCCEEDED);
    expect(done.result).toMatchObject({ id: job.id, content: "Hi there", model: "m", routing: { servedTier: "gold" } });
    expect(done.attempts).toBe(1);
    await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 300));
    expect(provider.callsTo("m")).toBe(1);
    expect(worker.tallies).toMatchObject({ succeeded: 1, retried: 0 });
    expect(await backend.queue.backlog("gold")).toEqual({ pending: 0, inProgress: 0 });
  });

  it("takes no job while the event loop lags, and takes it once the loop is back", async () => {
    let load: LoopLoad = { utilization: 0.3, delayP99Ms: 250 };
    const { backend, worker } = await setup(answering(5), () => load);
    worker.start();
    const job = await submit(backend);
    await new Promise((r) => setTimeout(r, 600));
    expect((await backend.store.get("acme", job.id))?.state).toBe(JobState.QUEUED);
    expect(worker.inFlight).toBe(0);
    load = { utilization: 0.3, delayP99Ms: 10 };
    expect((await stateOf(backend, job, JobState.SUCCEEDED)).attempts).toBe(1);
  });

  it("hands a failed attempt back and fails the job to the dead-letter subject after max_deliveries", async () => {
    const { backend, worker, provider } = await setup(failing());
    worker.start();
    const job = await submit(backend);
    const failed = await stateOf(backend, job, JobState.FAILED);
    expect(failed.attempts).toBe(2);
    expect(failed.error?.code).toBe("unavailable");
    expect(provider.callsTo("m")).toBe(2);
    expect(worker.tallies).toMatchObject({ retried: 1, failed: 1, deadLettered: 1 });
    expect(await backend.queue.deadLettered("gold")).toBe(1);
  });

  it("fails at once a job its tier can never serve (INVALID_ARGUMENT)", async () => {
    const { backend, worker, provider } = await setup(answering(5));
    worker.start();
    const job = await submit(backend, { input: create(CompletionInputSchema, { messages: [] }) });
    const failed = await stateOf(backend, job, JobState.FAILED);
    expect(failed).toMatchObject({ attempts: 1, error: { code: "invalid_argument" } });
    expect(provider.callsTo("m")).toBe(0);
  });

  it("stops a running job cancelled meanwhile, within a third of ack_wait", async () => {
    const { backend, worker } = await setup(hung);
    worker.start();
    const job = await submit(backend);
    await stateOf(backend, job, JobState.RUNNING);
    await backend.store.update(job.tenant, job.id, (j) => ({ ...j, state: JobState.CANCELLED }));
    await until(async () => (worker.tallies.cancelled === 1 && worker.inFlight === 0 ? true : undefined), ACK_WAIT_MS);
    expect((await backend.store.get(job.tenant, job.id))?.state).toBe(JobState.CANCELLED);
  });

  it("expires a job whose window passed before it was delivered, without running it", async () => {
    const { backend, worker, provider } = await setup(answering(5));
    const job = await submit(backend, { deadlineMs: BigInt(Date.now() - 1) });
    worker.start();
    const expired = await stateOf(backend, job, JobState.EXPIRED);
    expect(expired.error?.code).toBe("deadline_exceeded");
    expect(provider.callsTo("m")).toBe(0);
  });

  it("drops a second copy of a job another live executor is running, and takes over one whose executor went silent", async () => {
    const { backend, worker, provider } = await setup(answering(5));
    const live = await submit(backend, { state: JobState.RUNNING, progressAtMs: BigInt(Date.now()), attempts: 1 });
    const silent = await submit(backend, { state: JobState.RUNNING, progressAtMs: BigInt(Date.now() - ACK_WAIT_MS), attempts: 1 });
    worker.start();
    await stateOf(backend, silent, JobState.SUCCEEDED);
    await new Promise((r) => setTimeout(r, 300));
    expect((await backend.store.get(live.tenant, live.id))?.state).toBe(JobState.RUNNING);
    expect(provider.callsTo("m")).toBe(1);
  });
});

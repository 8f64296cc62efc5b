import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { create } from "@bufbuild/protobuf";
import { JobStore, newJobId } from "@tiermesh/jobs";
import { JobSchema, JobState } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobClient, jobIn, jobSpec, jobStoreReady, until } from "../support/job-clients.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";

// Runs in the "mesh" project only: it kills the bronze executor and the nats-server.
const ACK_WAIT_MS = 2_000;
const FAST = { ttft_ms: { median: 5, p99: 20 }, error_rate: 0, outage: false };
const SLOW = { ttft_ms: { median: 2_500, p99: 2_500 } };
const cli = fileURLToPath(new URL("../../services/cli/dist/main.js", import.meta.url));
/** The CLI on the mesh's config, and its NATS (the config file names none). */
let natsUrl = "";
const tiermesh = (...args: string[]) =>
  spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", timeout: 20_000, env: { ...process.env, TIERMESH_NATS_URL: natsUrl } });

/** A bronze job for acme as a router stores it just before queuing it, due within the hour. */
function queuedRecord(id: string, spec: ReturnType<typeof jobSpec>) {
  const now = BigInt(Date.now());
  return create(JobSchema, {
    id,
    tenant: "acme",
    tier: "bronze",
    state: JobState.QUEUED,
    input: spec.input,
    idempotencyKey: spec.idempotencyKey,
    createdAtMs: now,
    deadlineMs: now + 3_600_000n,
  });
}

describe("asynchronous jobs over the Job RPC", () => {
  let m: RunningMesh;
  let jobs: ReturnType<typeof jobClient>;
  let run = 0;
  /** An idempotency key unique to this run of the suite. */
  const key = (name: string) => `${name}-${Date.now()}-${run++}`;

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.bronze.async = { enabled: true, max_concurrency: 2, ack_wait_ms: ACK_WAIT_MS, max_deliveries: 3, retention_hours: 1 };
        // Bronze's slow answers in these tests must not be cut as stalls or timeouts.
        raw.tiers.bronze.timeouts = { attempt_ms: 8_000, ttft_ms: 6_000 };
        raw.tiers.bronze.stall = { enabled: false };
      },
    });
    jobs = jobClient(m.routerUrl);
    natsUrl = m.mesh.natsUrl;
    await jobStoreReady(jobs);
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("queues a job on bronze, runs it and keeps its result; WatchJob streams its states to the final one", async () => {
    const [submitted] = (await jobs.submitJobs({ jobs: [jobSpec(key("watch"))] })).jobs;
    expect(submitted).toMatchObject({ duplicate: false, job: { tier: "bronze", state: JobState.QUEUED } });
    const id = submitted!.job!.id;
    const states: JobState[] = [];
    for await (const { job } of jobs.watchJob({ id })) states.push(job!.state);
    expect(states.at(-1)).toBe(JobState.SUCCEEDED);
    const { job } = await jobs.getJob({ id });
    expect(job).toMatchObject({ state: JobState.SUCCEEDED, attempts: 1, tenant: "acme" });
    expect(job!.result!.content.length).toBeGreaterThan(0);
    expect(job!.result!.model).toBe("sim-bronze");
    expect(job!.result!.routing?.servedTier).toBe("bronze");
  });

  it("refuses, naming the tier, a job classified to a tier that takes none, and queues nothing of that call", async () => {
    const interactive = { ...jobSpec(key("gold")), input: { messages: [{ role: "user", content: "now" }], urgency: "interactive" } };
    const ok = jobSpec(key("ok"));
    const err = await jobs.submitJobs({ jobs: [ok, interactive] }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.FailedPrecondition);
    expect((err as ConnectError).rawMessage).toMatch(/jobs\[1\]: tier "gold" does not take asynchronous jobs/);
    const listed = await jobs.listJobs({ pageSize: 1000 });
    expect(listed.jobs.some((j) => j.idempotencyKey === ok.idempotencyKey)).toBe(false);
  });

  it("makes duplicate submissions of one idempotency key one job", async () => {
    const spec = jobSpec(key("dup"));
    const [a, b] = await Promise.all([jobs.submitJobs({ jobs: [spec] }), jobs.submitJobs({ jobs: [spec] })]);
    const again = await jobs.submitJobs({ jobs: [spec, spec] });
    const ids = new Set([...a.jobs, ...b.jobs, ...again.jobs].map((s) => s.job!.id));
    expect(ids.size).toBe(1);
    expect([...a.jobs, ...b.jobs].filter((s) => !s.duplicate)).toHaveLength(1);
    expect(again.jobs.every((s) => s.duplicate)).toBe(true);
    const [id] = ids;
    await jobIn(jobs, id!, JobState.SUCCEEDED);
    const listed = await jobs.listJobs({ pageSize: 1000 });
    expect(listed.jobs.filter((j) => j.idempotencyKey === spec.idempotencyKey)).toHaveLength(1);
  });

  it("queues again a job whose first submission stopped after storing it, when its key is submitted again", async () => {
    // What a router killed between storing a job and queuing it leaves behind.
    const spec = jobSpec(key("orphan"));
    const nc = await connect({ servers: m.mesh.natsUrl });
    const id = newJobId();
    try {
      // The bucket as the mesh opened it: bronze's retention_hours (1) is the longest.
      const store = await JobStore.open(nc, "tiermesh_jobs", 3_600_000);
      await store.claim("acme", spec.idempotencyKey, id);
      await store.create(queuedRecord(id, spec));
    } finally {
      await nc.close();
    }
    await new Promise((r) => setTimeout(r, 500));
    expect((await jobs.getJob({ id })).job!.state).toBe(JobState.QUEUED);
    const [again] = (await jobs.submitJobs({ jobs: [spec] })).jobs;
    expect(again).toMatchObject({ duplicate: true, job: { id } });
    await jobIn(jobs, id, JobState.SUCCEEDED);
  });

  it("serves a job due in 1 min, submitted after jobs due in 1 h, before them (earliest deadline first)", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", { ttft_ms: { median: 600, p99: 600 } });
    try {
      const later = (
        await jobs.submitJobs({
          jobs: Array.from({ length: 8 }, (_, i) => ({ ...jobSpec(key(`later-${i}`)), completionWindowSeconds: 3_600 })),
        })
      ).jobs.map((s) => s.job!.id);
      const [urgent] = (await jobs.submitJobs({ jobs: [{ ...jobSpec(key("urgent")), completionWindowSeconds: 60 }] })).jobs;
      const done = await jobIn(jobs, urgent!.job!.id, JobState.SUCCEEDED, 30_000);
      const others = await Promise.all(later.map((id) => jobIn(jobs, id, JobState.SUCCEEDED, 30_000)));
      // Bronze serves two at a time: those already running when it was queued, at most, start before it.
      const before = others.filter((j) => j.startedAtMs < done.startedAtMs);
      expect(before.length).toBeLessThanOrEqual(2);
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    }
  });

  it("serves a job an older router queued on the subject used before deadline bands", async () => {
    const nc = await connect({ servers: m.mesh.natsUrl });
    const id = newJobId();
    try {
      const store = await JobStore.open(nc, "tiermesh_jobs", 3_600_000);
      await store.create(queuedRecord(id, jobSpec(key("legacy"))));
      await jetstream(nc).publish("tiermesh.jobs.queue.bronze", `acme/${id}`, { msgID: id });
    } finally {
      await nc.close();
    }
    expect((await jobIn(jobs, id, JobState.SUCCEEDED)).attempts).toBe(1);
  });

  it("lists the caller's jobs newest first, in pages", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await jobs.submitJobs({ jobs: [jobSpec(key("page"))] })).jobs[0]!.job!.id);
    const first = await jobs.listJobs({ pageSize: 2 });
    expect(first.jobs.map((j) => j.id)).toEqual([ids[2], ids[1]]);
    const second = await jobs.listJobs({ pageSize: 2, pageToken: first.nextPageToken });
    expect(second.jobs[0]!.id).toBe(ids[0]);
    for (const id of ids) await jobIn(jobs, id, JobState.SUCCEEDED);
  });

  it("cancels a running job: it stays cancelled, with no result", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", SLOW);
    try {
      const id = (await jobs.submitJobs({ jobs: [jobSpec(key("cancel"))] })).jobs[0]!.job!.id;
      await jobIn(jobs, id, JobState.RUNNING);
      const { job } = await jobs.cancelJob({ id });
      expect(job!.state).toBe(JobState.CANCELLED);
      await new Promise((r) => setTimeout(r, 3_500));
      const after = (await jobs.getJob({ id })).job!;
      expect(after.state).toBe(JobState.CANCELLED);
      expect(after.result).toBeUndefined();
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    }
  });

  it("completes a job once after its executor is killed with SIGKILL mid-job (delivered again after ack_wait)", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", SLOW);
    try {
      const id = (await jobs.submitJobs({ jobs: [jobSpec(key("kill"))] })).jobs[0]!.job!.id;
      const states: JobState[] = [];
      const watching = (async () => {
        for await (const { job } of jobs.watchJob({ id })) states.push(job!.state);
      })();
      await jobIn(jobs, id, JobState.RUNNING);
      const pid = m.mesh.status().find((p) => p.name === "executor-bronze")!.pid!;
      process.kill(pid, "SIGKILL");
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
      const done = await jobIn(jobs, id, JobState.SUCCEEDED, 30_000);
      await watching;
      expect(done.attempts).toBe(2);
      expect(states.filter((s) => s === JobState.SUCCEEDED)).toHaveLength(1);
      await new Promise((r) => setTimeout(r, ACK_WAIT_MS + 500));
      expect((await jobs.getJob({ id })).job).toMatchObject({ state: JobState.SUCCEEDED, attempts: 2 });
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    }
  });

  it("loses no queued job when NATS is killed and restarted (file storage)", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", { ttft_ms: { median: 400, p99: 400 } });
    // Due at different times: queued over several deadline bands.
    const specs = Array.from({ length: 12 }, (_, i) => ({
      ...jobSpec(key(`nats-${i}`)),
      completionWindowSeconds: [600, 1_800, 3_600][i % 3],
    }));
    const submitted = (await jobs.submitJobs({ jobs: specs })).jobs.map((s) => s.job!.id);
    const nats = m.mesh.status().find((p) => p.name === "nats-server")!;
    process.kill(nats.pid!, "SIGKILL");
    await until("nats-server restarted", async () => {
      const p = m.mesh.status().find((s) => s.name === "nats-server")!;
      return p.restarts === 1 && p.pid !== undefined && p.pid !== nats.pid ? p : undefined;
    });
    await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    for (const id of submitted) {
      const job = await jobIn(jobs, id, JobState.SUCCEEDED, 45_000);
      expect(job.result!.content.length).toBeGreaterThan(0);
    }
  });

  it("fails a job that keeps failing after max_deliveries and keeps it on the dead-letter subject", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", { error_rate: 1 });
    try {
      const id = (await jobs.submitJobs({ jobs: [jobSpec(key("dead"))] })).jobs[0]!.job!.id;
      const job = await jobIn(jobs, id, JobState.FAILED, 30_000);
      expect(job.attempts).toBe(3);
      expect(job.error?.message.length).toBeGreaterThan(0);
      const nc = await connect({ servers: m.mesh.natsUrl });
      try {
        const jsm = await jetstreamManager(nc);
        const info = await jsm.streams.info("TIERMESH_JOBS", { subjects_filter: "tiermesh.jobs.dead.bronze" });
        expect(info.state.subjects?.["tiermesh.jobs.dead.bronze"]).toBeGreaterThanOrEqual(1);
      } finally {
        await nc.close();
      }
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    }
  });

  it("lists dead-lettered jobs with tiermesh jobs dead-letters, and replays one under its id with tiermesh jobs replay", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", { error_rate: 1 });
    let id: string;
    try {
      id = (await jobs.submitJobs({ jobs: [jobSpec(key("replay"))] })).jobs[0]!.job!.id;
      await jobIn(jobs, id, JobState.FAILED, 30_000);
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", FAST);
    }
    // The job is failed first, then kept on the dead-letter subject.
    const listed = await until("the job dead-lettered", async () => {
      const r = tiermesh("jobs", "dead-letters", "--tier", "bronze", "--tenant", "acme", "--config", m.file);
      return r.stdout.includes(id) ? r : undefined;
    });
    expect(listed.status, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`${id}\\s+acme\\s+bronze\\s+3\\s+\\d{4}-\\d\\d-\\d\\dT\\S+\\s+\\w+: `));
    expect(tiermesh("jobs", "dead-letters", "--tenant", "nobody", "--config", m.file).stdout).toBe("no dead-lettered jobs\n");

    const replayed = tiermesh("jobs", "replay", id, "--config", m.file);
    expect(replayed.status, replayed.stderr).toBe(0);
    expect(replayed.stdout).toBe(`${id} acme bronze: queued again, replay 1\n`);
    const done = await jobIn(jobs, id, JobState.SUCCEEDED, 30_000);
    expect(done).toMatchObject({ attempts: 1, replays: 1 });
    expect(done.result!.content.length).toBeGreaterThan(0);
    expect(tiermesh("jobs", "dead-letters", "--config", m.file).stdout).not.toContain(id);
    // Its dead letter is gone: asking again names the job and fails.
    const again = tiermesh("jobs", "replay", id, "--config", m.file);
    expect(again.status).toBe(1);
    expect(again.stdout).toContain(`${id}: no dead letter for this job`);
  });

  it("refuses a jobs command given wrongly, naming what is wrong", () => {
    for (const [args, said] of [
      [["jobs", "replay"], /give the ids of the jobs to replay, or --all/],
      [["jobs", "replay", "nope"], /"nope" is not a job id/],
      [["jobs", "replay", "--all", "job_00000000000000000000000000"], /--all: give job ids or --all, not both/],
      [["jobs", "dead-letters", "--tier", "gold"], /--tier: "gold" is not a tier that takes jobs \(tiers with async.enabled: bronze\)/],
      [["jobs", "dead-letters", "--since", "1h"], /jobs dead-letters: .*--since/],
      [["jobs", "purge"], /jobs: unknown subcommand "purge"/],
    ] as const) {
      const r = tiermesh(...args, "--config", m.file);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(said);
    }
  });
});

import { create } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { JobSchema, JobState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { newJobId, parseQueuePayload } from "./job-names.js";
import { JobQueue } from "./job-queue.js";
import { JobStore } from "./job-store.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

// A real nats-server with JetStream on a free port and a temp store (never a mocked broker).
const HOUR = 3_600_000;

const nats = useNatsServer();

const job = (tenant = "acme") =>
  create(JobSchema, { id: newJobId(), tenant, tier: "bronze", state: JobState.QUEUED, createdAtMs: BigInt(Date.now()) });

describe("JobStore", () => {
  it("claims an idempotency key once per tenant; a second claim gets the first job's id", async () => {
    const store = await JobStore.open(nats.nc, "jobs_claims", HOUR);
    const [a, b] = [newJobId(), newJobId()];
    expect(await Promise.all([store.claim("acme", "key-1", a), store.claim("acme", "key-1", b)])).toEqual([a, a]);
    expect(await store.claim("other", "key-1", b)).toBe(b);
  });

  it("never changes a final job: the first final state written wins", async () => {
    const store = await JobStore.open(nats.nc, "jobs_final", HOUR);
    const j = job();
    expect(await store.create(j)).toBe(true);
    expect(await store.create(j)).toBe(false);
    const done = await store.update(j.tenant, j.id, (x) => ({ ...x, state: JobState.SUCCEEDED }));
    expect(done.changed).toBe(true);
    const late = await store.update(j.tenant, j.id, (x) => ({ ...x, state: JobState.FAILED }));
    expect(late).toMatchObject({ changed: false, job: { state: JobState.SUCCEEDED } });
    expect((await store.get(j.tenant, j.id))?.state).toBe(JobState.SUCCEEDED);
    expect(await store.get("other", j.id)).toBeUndefined();
  });

  it("serialises concurrent changes (compare-and-set on the revision)", async () => {
    const store = await JobStore.open(nats.nc, "jobs_cas", HOUR);
    const j = job();
    await store.create(j);
    await Promise.all(Array.from({ length: 10 }, () => store.update(j.tenant, j.id, (x) => ({ ...x, attempts: x.attempts + 1 }))));
    expect((await store.get(j.tenant, j.id))?.attempts).toBe(10);
  });

  it("lists a tenant's ids newest first and watches a job until it is final", async () => {
    const store = await JobStore.open(nats.nc, "jobs_watch", HOUR);
    const first = create(JobSchema, { ...job(), id: newJobId(Date.now() - 1_000) });
    const second = job();
    await store.create(first);
    await store.create(second);
    await store.create(job("other"));
    expect(await store.ids("acme")).toEqual([second.id, first.id]);
    const seen: JobState[] = [];
    const watching = (async () => {
      for await (const j of store.watch("acme", first.id, AbortSignal.timeout(5_000))) seen.push(j.state);
    })();
    await new Promise((r) => setTimeout(r, 100));
    await store.update("acme", first.id, (x) => ({ ...x, state: JobState.RUNNING }));
    await store.update("acme", first.id, (x) => ({ ...x, state: JobState.CANCELLED }));
    await watching;
    expect(seen).toEqual([JobState.QUEUED, JobState.RUNNING, JobState.CANCELLED]);
  });
});

describe("JobStore.ids", () => {
  it("answers at once while the tenant's jobs keep changing", async () => {
    const store = await JobStore.open(nats.nc, "jobs_busy", HOUR);
    const jobs = Array.from({ length: 20 }, () => job());
    for (const j of jobs) await store.create(j);
    let stop = false;
    const churn = (async () => {
      while (!stop) await Promise.all(jobs.map((j) => store.update(j.tenant, j.id, (x) => ({ ...x, attempts: x.attempts + 1 }))));
    })();
    try {
      const started = Date.now();
      for (let i = 0; i < 5; i++) expect(await store.ids("acme")).toHaveLength(20);
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      stop = true;
      await churn;
    }
  });
});

describe("JobQueue", () => {
  it("delivers a tier's jobs once each, in submission order within a band, to consumers executors share; publishing twice queues once", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_ORDER", prefix: "t1", retentionMs: HOUR });
    const jobs = [job(), job(), job()];
    for (const j of jobs) await queue.enqueue(j);
    await queue.enqueue(jobs[0]!);
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 1_000 });
    const again = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 1_000 });
    expect(await queue.backlog("bronze")).toEqual({ pending: 3, inProgress: 0 });
    expect(await queue.oldestQueuedAt("bronze")).toBeGreaterThan(Date.now() - 10_000);
    const got: string[] = [];
    for (const c of [consumer, again, consumer]) {
      const m = await c.next({ expires: 1_000 });
      got.push(parseQueuePayload(m!.string())!.id);
      expect(await queue.backlog("bronze")).toMatchObject({ inProgress: 1 });
      await m!.ackAck();
    }
    expect(got).toEqual(jobs.map((j) => j.id));
    expect(await consumer.next({ expires: 1_000 })).toBeNull();
    expect(await queue.oldestQueuedAt("bronze")).toBeUndefined();
    expect(await queue.backlog("bronze")).toEqual({ pending: 0, inProgress: 0 });
  });

  it("leaves the stream alone while nothing is queued, and takes a job queued meanwhile within a few hundred ms", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_IDLE", prefix: "t6", retentionMs: HOUR });
    let looks = 0;
    const sub = nats.nc.subscribe("$JS.API.STREAM.INFO.JOBS_IDLE", { callback: () => void looks++ });
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 5_000 });
    try {
      // As a worker does: asks again as soon as an empty pull ends, here for 2.5 s.
      const until = Date.now() + 2_500;
      while (Date.now() < until) expect(await consumer.next({ expires: 1_000 })).toBeNull();
      // One look (one request per filter); polling every 250 ms would have made about 20.
      expect(looks).toBeLessThanOrEqual(4);
      const queued = job();
      const pulling = (async () => {
        for (;;) {
          const m = await consumer.next({ expires: 1_000 });
          if (m) return { m, at: Date.now() };
        }
      })();
      const sent = Date.now();
      await queue.enqueue(queued);
      const { m, at } = await pulling;
      expect(parseQueuePayload(m.string())!.id).toBe(queued.id);
      expect(at - sent).toBeLessThan(800);
      await m.ackAck();
    } finally {
      consumer.close();
      sub.unsubscribe();
    }
  });

  it("serves a job due in 1 h, submitted after 300 jobs due in 24 h, before them", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_DEADLINE", prefix: "t3", retentionMs: 48 * HOUR, bandSeconds: () => 300 });
    const now = Date.now();
    const late = Array.from({ length: 300 }, () => create(JobSchema, { ...job(), deadlineMs: BigInt(now + 24 * HOUR) }));
    await Promise.all(late.map((j) => queue.enqueue(j)));
    const urgent = create(JobSchema, { ...job(), deadlineMs: BigInt(now + HOUR) });
    const sooner = create(JobSchema, { ...job(), deadlineMs: BigInt(now + 2 * HOUR) });
    await queue.enqueue(sooner);
    await queue.enqueue(urgent);
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 5_000 });
    const got: string[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await consumer.next({ expires: 1_000 });
      got.push(parseQueuePayload(m!.string())!.id);
      await m!.ackAck();
    }
    expect(got).toEqual([urgent.id, sooner.id, late[0]!.id]);
  });

  it("goes on to later bands while the earliest band's jobs all run, and serves jobs queued before bands first", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_BANDS", prefix: "t4", retentionMs: 48 * HOUR, bandSeconds: () => 60 });
    const now = Date.now();
    // A job an older router queued on the subject used before deadline bands.
    const old = job();
    const js = jetstream(nats.nc);
    await js.publish("t4.jobs.queue.bronze", `${old.tenant}/${old.id}`, { msgID: old.id });
    const first = create(JobSchema, { ...job(), deadlineMs: BigInt(now + HOUR) });
    const second = create(JobSchema, { ...job(), deadlineMs: BigInt(now + 3 * HOUR) });
    await queue.enqueue(second);
    await queue.enqueue(first);
    expect(await queue.backlog("bronze")).toEqual({ pending: 3, inProgress: 0 });
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 5_000 });
    const held = [];
    for (let i = 0; i < 3; i++) held.push((await consumer.next({ expires: 1_000 }))!);
    expect(held.map((m) => parseQueuePayload(m.string())!.id)).toEqual([old.id, first.id, second.id]);
    expect(await queue.backlog("bronze")).toEqual({ pending: 0, inProgress: 3 });
    // A failed attempt handed back is delivered again although nothing else is waiting.
    held[2]!.nak();
    // Every band holds only running jobs now: pulls go to each band in turn.
    let again = null;
    for (let i = 0; i < 4 && !again; i++) again = await consumer.next({ expires: 1_000 });
    expect(again?.info.deliveryCount).toBe(2);
    expect(parseQueuePayload(again!.string())!.id).toBe(second.id);
    for (const m of [held[0]!, held[1]!, again!]) await m.ackAck();
    expect(await queue.backlog("bronze")).toEqual({ pending: 0, inProgress: 0 });
  });

  it("redelivers an unacknowledged job after ack_wait, up to max_deliver", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_REDELIVER", prefix: "t2", retentionMs: HOUR });
    await queue.enqueue(job());
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 1_000 });
    const first = await consumer.next({ expires: 1_000 });
    expect(first?.info.deliveryCount).toBe(1);
    const second = await consumer.next({ expires: 3_000 });
    expect(second?.info.deliveryCount).toBe(2);
    expect(await consumer.next({ expires: 2_000 })).toBeNull();
  });

  it("removes the consumers of past bands once they are empty", async () => {
    const queue = await JobQueue.open(nats.nc, { stream: "JOBS_SWEEP", prefix: "t5", retentionMs: 48 * HOUR, bandSeconds: () => 60 });
    const expired = create(JobSchema, { ...job(), deadlineMs: BigInt(Date.now() - HOUR) });
    await queue.enqueue(expired);
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 5_000 });
    await (await consumer.next({ expires: 1_000 }))!.ackAck();
    const jsm = await jetstreamManager(nats.nc);
    const names = async () => (await jsm.consumers.list("JOBS_SWEEP").next()).map((c) => c.name);
    expect(await names()).toHaveLength(1);
    // A later executor (a new consumer object) sweeps at its first look at the bands.
    await queue.consumer({ tier: "bronze", maxDeliver: 2, ackWaitMs: 5_000 }).nonEmptyBands();
    expect(await names()).toEqual([]);
  });
});

describe("retention", () => {
  it("brings an existing bucket's age limit to the configured retention", async () => {
    await JobStore.open(nats.nc, "jobs_retention", HOUR);
    await JobStore.open(nats.nc, "jobs_retention", 2 * HOUR);
    const info = await (await jetstreamManager(nats.nc)).streams.info("KV_jobs_retention");
    expect(info.config.max_age).toBe(2 * HOUR * 1_000_000);
  });
});

import { create } from "@bufbuild/protobuf";
import { jetstreamManager } from "@nats-io/jetstream";
import { JobSchema, JobState, type Job } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { replayDeadLetters } from "./dead-letter-replay.js";
import { JobStreamMissingError, openExistingJobBackend } from "./job-backend.js";
import { newJobId, parseQueuePayload } from "./job-names.js";
import { JobQueue } from "./job-queue.js";
import { JobStore } from "./job-store.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

// A real nats-server with JetStream (never a mocked broker).
let run = 0;
const HOUR = 3_600_000;

const nats = useNatsServer();

async function backend() {
  run++;
  const [store, queue] = await Promise.all([
    JobStore.open(nats.nc, `dl_jobs${run}`, HOUR),
    JobQueue.open(nats.nc, { stream: `DL${run}`, prefix: `dl${run}`, retentionMs: HOUR }),
  ]);
  return { store, queue };
}

/** A job that failed its three deliveries an hour ago. */
const failedJob = (tier = "bronze", tenant = "acme"): Job => {
  const created = Date.now() - HOUR;
  return create(JobSchema, {
    id: newJobId(created),
    tenant,
    tier,
    state: JobState.FAILED,
    attempts: 3,
    createdAtMs: BigInt(created),
    deadlineMs: BigInt(created + 10 * 60_000),
    finishedAtMs: BigInt(created + 60_000),
    error: { code: "unavailable", message: "upstream down" },
  });
};

describe("dead letters", () => {
  it("lists dead-lettered jobs of every tier or one, oldest first", async () => {
    const { queue } = await backend();
    const [a, b, c] = [failedJob("bronze"), failedJob("silver"), failedJob("bronze", "other")];
    for (const j of [a, b, c]) await queue.deadLetter(j!);
    expect((await queue.deadLetters()).map((l) => l.job.id)).toEqual([a!.id, b!.id, c!.id]);
    const bronze = await queue.deadLetters("bronze");
    expect(bronze.map((l) => [l.job.id, l.job.tenant, l.job.attempts, l.job.error?.message])).toEqual([
      [a!.id, "acme", 3, "upstream down"],
      [c!.id, "other", 3, "upstream down"],
    ]);
    expect(bronze[0]!.at.getTime()).toBeGreaterThan(Date.now() - 10_000);
    expect(await queue.deadLettered("bronze")).toBe(2);
  });

  it("replays a job under its id with a fresh window and deliveries, and removes its dead letter; replaying again queues nothing", async () => {
    const { store, queue } = await backend();
    const job = failedJob();
    await store.create(job);
    await queue.deadLetter(job);
    const letters = await queue.deadLetters();
    const before = Date.now();
    expect(await replayDeadLetters({ store, queue }, letters)).toEqual([
      { id: job.id, tenant: "acme", tier: "bronze", outcome: "replayed", replays: 1 },
    ]);
    const replayed = (await store.get("acme", job.id))!;
    expect(replayed).toMatchObject({ state: JobState.QUEUED, attempts: 0, replays: 1, finishedAtMs: 0n });
    expect(Number(replayed.replayedAtMs)).toBeGreaterThanOrEqual(before);
    // The same 10-minute window, from now.
    expect(Number(replayed.deadlineMs - replayed.replayedAtMs)).toBe(10 * 60_000);
    expect(await queue.deadLetters()).toEqual([]);
    const consumer = queue.consumer({ tier: "bronze", maxDeliver: 4, ackWaitMs: 5_000 });
    const msg = await consumer.next({ expires: 1_000 });
    expect(parseQueuePayload(msg!.string())!.id).toBe(job.id);
    expect(msg!.info.deliveryCount).toBe(1);
    await msg!.ackAck();
    await store.update("acme", job.id, (j) => ({ ...j, state: JobState.SUCCEEDED, attempts: 1 }));
    // A stale copy of the letter (a replay run twice): nothing is queued again.
    expect((await replayDeadLetters({ store, queue }, letters))[0]!.outcome).toBe("settled");
    expect(await queue.backlog("bronze")).toEqual({ pending: 0, inProgress: 0 });
  });

  it("rebuilds from its dead letter a job whose record is no longer kept", async () => {
    const { store, queue } = await backend();
    const job = failedJob();
    await queue.deadLetter(job);
    const [outcome] = await replayDeadLetters({ store, queue }, await queue.deadLetters());
    expect(outcome).toMatchObject({ outcome: "replayed", replays: 1 });
    expect((await store.get("acme", job.id))?.state).toBe(JobState.QUEUED);
    const jsm = await jetstreamManager(nats.nc);
    expect((await jsm.streams.info(`DL${run}`)).state.messages).toBe(1);
  });

  it("opens for tools only a job stream and bucket that exist, creating nothing", async () => {
    const jsm = await jetstreamManager(nats.nc);
    const before = (await jsm.streams.names().next()).length;
    const config = {
      tiers: {},
      nats: {
        url: nats.server.url,
        subject_prefix: "none",
        kv_bucket: "s",
        jobs_stream: "NO_JOBS",
        jobs_bucket: "no_jobs",
        files_bucket: "no_files",
      },
    };
    await expect(openExistingJobBackend(nats.nc, config)).rejects.toThrow(JobStreamMissingError);
    await expect(openExistingJobBackend(nats.nc, config)).rejects.toThrow(/nats.jobs_stream: no stream "NO_JOBS"/);
    expect((await jsm.streams.names().next()).length).toBe(before);
  });
});

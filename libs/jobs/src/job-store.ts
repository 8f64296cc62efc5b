import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { JetStreamApiCodes, JetStreamApiError, StorageType } from "@nats-io/jetstream";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { JobSchema, JobState, type Job } from "@tiermesh/proto";
import { idempotencyKey, jobKey, tenantJobs } from "./job-names.js";
import { isFinal } from "./job-states.js";
import { bucketKeys } from "./bucket-keys.js";
import { keepMaxAge } from "./max-age.js";

/** Attempts of a compare-and-set update before giving up on a key others keep changing. */
export const MAX_CAS_ROUNDS = 20;

export const isWrongSequence = (err: unknown) =>
  err instanceof JetStreamApiError &&
  (err.code === JetStreamApiCodes.StreamWrongLastSequence || err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

/** Two writers changed a job at once too many times in a row. */
export class JobContentionError extends Error {
  override readonly name = "JobContentionError";
}

/**
 * Job records in a JetStream key-value bucket (file storage, one value per key, kept
 * `retentionMs` after their last change). Every change is a compare-and-set on the key's
 * revision, and a final state is never changed: whoever writes a final state first wins,
 * and a late duplicate (a redelivered job finishing twice) changes nothing.
 */
export class JobStore {
  private constructor(
    private readonly kv: KV,
    private readonly nc: NatsConnection,
    private readonly bucket: string,
  ) {}

  static async open(nc: NatsConnection, bucket: string, retentionMs: number): Promise<JobStore> {
    const kv = await new Kvm(nc).create(bucket, { history: 1, ttl: retentionMs, storage: StorageType.File });
    await keepMaxAge(nc, `KV_${bucket}`, retentionMs);
    return new JobStore(kv, nc, bucket);
  }

  /** Opens the bucket as it is, changing nothing (for tools); fails if there is none. */
  static async existing(nc: NatsConnection, bucket: string): Promise<JobStore> {
    return new JobStore(await new Kvm(nc).open(bucket), nc, bucket);
  }

  async get(tenant: string, id: string): Promise<Job | undefined> {
    const entry = await this.kv.get(jobKey(tenant, id));
    return entry && entry.operation === "PUT" && entry.value.length > 0 ? fromBinary(JobSchema, entry.value) : undefined;
  }

  /** Stores a new job; false when a job with its id exists already. */
  async create(job: Job): Promise<boolean> {
    try {
      await this.kv.create(jobKey(job.tenant, job.id), toBinary(JobSchema, job));
      return true;
    } catch (err) {
      if (isWrongSequence(err)) return false;
      throw err;
    }
  }

  /**
   * Claims an idempotency key for `id`, atomically; returns the id it was claimed for
   * (`id` itself when this call claimed it).
   */
  async claim(tenant: string, key: string, id: string): Promise<string> {
    const k = idempotencyKey(tenant, key);
    try {
      await this.kv.create(k, new TextEncoder().encode(id));
      return id;
    } catch (err) {
      if (!isWrongSequence(err)) throw err;
      const entry = await this.kv.get(k);
      if (entry?.operation !== "PUT") throw err;
      return entry.string();
    }
  }

  /** The job an idempotency key was claimed for, without claiming it; undefined when unclaimed. */
  async find(tenant: string, key: string): Promise<string | undefined> {
    const entry = await this.kv.get(idempotencyKey(tenant, key));
    return entry?.operation === "PUT" && entry.value.length > 0 ? entry.string() : undefined;
  }

  /** Forgets an idempotency key (a submission that could not be queued). */
  async release(tenant: string, key: string): Promise<void> {
    await this.kv.delete(idempotencyKey(tenant, key));
  }

  /**
   * Changes a job with `change` (which returns the new job, or undefined to leave it) as a
   * compare-and-set, retrying on a concurrent write. A final job is never handed to
   * `change`. Returns the job as stored afterwards, and whether this call changed it.
   */
  async update(tenant: string, id: string, change: (job: Job) => Job | undefined): Promise<{ job: Job | undefined; changed: boolean }> {
    return this.change(tenant, id, (job) => (isFinal(job.state) ? undefined : change(job)));
  }

  /**
   * Queues a job that failed for good again, as `tiermesh jobs replay` does: the one change
   * of a final state there is. The job keeps its id (callers see one result), gets a fresh
   * completion window as long as its first and a fresh budget of deliveries, and counts the
   * replay. A job in any other state is left as it is.
   */
  async replay(tenant: string, id: string, now = Date.now()): Promise<{ job: Job | undefined; changed: boolean }> {
    return this.change(tenant, id, (job) =>
      job.state === JobState.FAILED
        ? {
            ...job,
            state: JobState.QUEUED,
            attempts: 0,
            startedAtMs: 0n,
            finishedAtMs: 0n,
            progressAtMs: 0n,
            deadlineMs: BigInt(now) + (job.deadlineMs - job.createdAtMs),
            replays: job.replays + 1,
            replayedAtMs: BigInt(now),
          }
        : undefined,
    );
  }

  private async change(
    tenant: string,
    id: string,
    change: (job: Job) => Job | undefined,
  ): Promise<{ job: Job | undefined; changed: boolean }> {
    const key = jobKey(tenant, id);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const entry = await this.kv.get(key);
      if (entry?.operation !== "PUT" || entry.value.length === 0) return { job: undefined, changed: false };
      const job = fromBinary(JobSchema, entry.value);
      const next = change(job);
      if (next === undefined) return { job, changed: false };
      try {
        await this.kv.update(key, toBinary(JobSchema, next), entry.revision);
        return { job: next, changed: true };
      } catch (err) {
        if (!isWrongSequence(err)) throw err;
      }
    }
    throw new JobContentionError(`job ${id}: ${MAX_CAS_ROUNDS} concurrent changes in a row`);
  }

  /** Ids of a tenant's jobs, newest first. */
  async ids(tenant: string): Promise<string[]> {
    const prefix = `jobs.${tenant}.`;
    const keys = await bucketKeys(this.nc, this.bucket, tenantJobs(tenant));
    return keys
      .map((k) => k.slice(prefix.length))
      .sort()
      .reverse();
  }

  /** The job now, then every change of it, until `signal` aborts or the job is final. */
  async *watch(tenant: string, id: string, signal: AbortSignal): AsyncGenerator<Job> {
    const watcher = await this.kv.watch({ key: jobKey(tenant, id) });
    const stop = () => watcher.stop();
    signal.addEventListener("abort", stop, { once: true });
    try {
      for await (const entry of watcher) {
        if (entry.operation !== "PUT" || entry.value.length === 0) continue;
        const job = fromBinary(JobSchema, entry.value);
        yield job;
        if (isFinal(job.state)) return;
      }
    } finally {
      signal.removeEventListener("abort", stop);
      watcher.stop();
    }
  }
}

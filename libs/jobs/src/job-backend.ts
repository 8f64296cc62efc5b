import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "@tiermesh/config";
import { JetStreamApiCodes, JetStreamApiError } from "@nats-io/jetstream";
import { JobQueue, type JobQueueOptions } from "./job-queue.js";
import { FileStore } from "./file-store.js";
import { JobStore } from "./job-store.js";
import { JsonRecords } from "./json-records.js";
import { batchRecordSchema, type BatchRecord } from "./batches/batch-record.js";
import type { BatchStores } from "./batches/batch-settle.js";

/** The job stream and bucket of a mesh, opened together. */
export interface JobBackend {
  readonly store: JobStore;
  readonly queue: JobQueue;
}

const HOUR_MS = 3_600_000;

/**
 * How long jobs are kept: the longest `async.retention_hours` of the tiers (one hour when no
 * tier takes jobs). The stream and bucket are shared by all tiers, so every process opening
 * them must agree on one figure, and it is derived from config alone.
 */
export function jobRetentionMs(config: Pick<Config, "tiers">): number {
  const hours = Object.values(config.tiers).map((t) => (t.async.enabled ? t.async.retention_hours : 0));
  return Math.max(1, ...hours) * HOUR_MS;
}

/** Tiers that take jobs, by name. */
export const asyncTiers = (config: Pick<Config, "tiers">) =>
  Object.entries(config.tiers)
    .filter(([, t]) => t.async.enabled)
    .map(([name]) => name);

const queueOptions = (config: Pick<Config, "tiers" | "nats">): JobQueueOptions => ({
  stream: config.nats.jobs_stream,
  prefix: config.nats.subject_prefix,
  retentionMs: jobRetentionMs(config),
  bandSeconds: (tier) => config.tiers[tier]?.async.deadline_band_seconds,
});

/** Opens the job stream and bucket, creating them (or bringing their settings up to date) as needed. */
export async function openJobBackend(nc: NatsConnection, config: Pick<Config, "tiers" | "nats">): Promise<JobBackend> {
  const [store, queue] = await Promise.all([
    JobStore.open(nc, config.nats.jobs_bucket, jobRetentionMs(config)),
    JobQueue.open(nc, queueOptions(config)),
  ]);
  return { store, queue };
}

/** The NATS server reached holds no job stream or bucket (it is not the mesh's, or no job was ever queued). */
export class JobStreamMissingError extends Error {
  override readonly name = "JobStreamMissingError";
}

/** Opens the job stream and bucket as they are, for tools: creates or changes nothing on a NATS that holds none. */
export async function openExistingJobBackend(nc: NatsConnection, config: Pick<Config, "tiers" | "nats">): Promise<JobBackend> {
  try {
    const queue = await JobQueue.existing(nc, queueOptions(config));
    const store = await JobStore.existing(nc, config.nats.jobs_bucket);
    return { store, queue };
  } catch (cause) {
    if (!(cause instanceof JetStreamApiError) || cause.code !== JetStreamApiCodes.StreamNotFound) throw cause;
    const { jobs_stream, jobs_bucket, url } = config.nats;
    throw new JobStreamMissingError(
      `nats.jobs_stream: no stream "${jobs_stream}" or bucket "${jobs_bucket}" at ${url}; no job was ever queued there (is it the mesh's NATS? see nats.url or TIERMESH_NATS_URL)`,
      { cause },
    );
  }
}

/** The Batch API's files, kept as long as jobs are. */
export function openFileStore(nc: NatsConnection, config: Pick<Config, "tiers" | "nats">): Promise<FileStore> {
  return FileStore.open(nc, config.nats.files_bucket, jobRetentionMs(config));
}

/** The Batch API's batch records (JSON under `batches.<tenant>.<id>` in the jobs bucket). */
export function openBatchRecords(nc: NatsConnection, config: Pick<Config, "tiers" | "nats">): Promise<JsonRecords<BatchRecord>> {
  return JsonRecords.open(nc, config.nats.jobs_bucket, jobRetentionMs(config), "batches", (v) => batchRecordSchema.parse(v));
}

/** Everything ending a batch reads and writes: job records, files and batch records. */
export async function openBatchStores(nc: NatsConnection, config: Pick<Config, "tiers" | "nats">): Promise<BatchStores> {
  const [backend, files, batches] = await Promise.all([
    openJobBackend(nc, config),
    openFileStore(nc, config),
    openBatchRecords(nc, config),
  ]);
  return { jobs: backend.store, files, batches };
}

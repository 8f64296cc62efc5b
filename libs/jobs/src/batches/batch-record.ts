import { randomBytes } from "node:crypto";
import { z } from "zod";

/** Batch statuses, as OpenAI's Batch API names them. */
export const batchStatuses = [
  "validating",
  "failed",
  "in_progress",
  "finalizing",
  "completed",
  "expired",
  "cancelling",
  "cancelled",
] as const;
export type BatchStatus = (typeof batchStatuses)[number];

/** The error code of a request that did not end within its batch's window (OpenAI's). */
export const BATCH_EXPIRED = "batch_expired";

const epoch = z.number().int().nullable();

const lineErrorSchema = z.object({
  /** 1-based line of the input file. */
  line: z.number().int(),
  custom_id: z.string().nullable(),
  code: z.string(),
  message: z.string(),
});

/** A batch as the router keeps it (JSON in the jobs bucket). */
export const batchRecordSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  endpoint: z.string(),
  input_file_id: z.string(),
  completion_window: z.string(),
  status: z.enum(batchStatuses),
  created_at: z.number().int(),
  expires_at: z.number().int(),
  in_progress_at: epoch,
  finalizing_at: epoch,
  completed_at: epoch,
  failed_at: epoch,
  expired_at: epoch,
  cancelling_at: epoch,
  cancelled_at: epoch,
  /** While validating: when the router turning its lines into jobs last recorded progress (a router that stopped leaves it old). */
  validated_at: epoch.default(null),
  output_file_id: z.string().nullable(),
  error_file_id: z.string().nullable(),
  metadata: z.record(z.string(), z.string()).nullable(),
  /** Lines of the input file. */
  total: z.number().int(),
  /** The job of each accepted line, in input order. */
  jobs: z.array(z.object({ custom_id: z.string(), job_id: z.string() })),
  /** Lines refused before queuing (bad JSON, refused parameters), in input order. */
  line_errors: z.array(lineErrorSchema),
  /** Why the batch failed as a whole (its input file could not be read). */
  errors: z.array(z.object({ code: z.string(), message: z.string() })).default([]),
  /** Counts from the last look at the jobs. */
  completed: z.number().int(),
  failed: z.number().int(),
});

export type BatchRecord = z.output<typeof batchRecordSchema>;
export type LineError = z.output<typeof lineErrorSchema>;

const BATCH_ID = /^batch_[0-9a-z]{10}[0-9a-f]{16}$/;
export const isBatchId = (id: string) => BATCH_ID.test(id);
/** Ids sort by creation time, so listing newest first is a sort of keys. */
export const newBatchId = (now = Date.now()) => `batch_${now.toString(36).padStart(10, "0")}${randomBytes(8).toString("hex")}`;

/** The batch as OpenAI's API shows it. */
export function batchObject(b: BatchRecord): object {
  return {
    id: b.id,
    object: "batch",
    endpoint: b.endpoint,
    errors: b.errors.length > 0 ? { object: "list", data: b.errors.map((e) => ({ ...e, param: null, line: null })) } : null,
    input_file_id: b.input_file_id,
    completion_window: b.completion_window,
    status: b.status,
    output_file_id: b.output_file_id,
    error_file_id: b.error_file_id,
    created_at: b.created_at,
    in_progress_at: b.in_progress_at,
    expires_at: b.expires_at,
    finalizing_at: b.finalizing_at,
    completed_at: b.completed_at,
    failed_at: b.failed_at,
    expired_at: b.expired_at,
    cancelling_at: b.cancelling_at,
    cancelled_at: b.cancelled_at,
    request_counts: { total: b.total, completed: b.completed, failed: b.failed },
    metadata: b.metadata,
  };
}

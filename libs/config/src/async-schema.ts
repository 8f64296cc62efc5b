import { z } from "zod";
import { fraction, positiveMs } from "./schema-parts.js";

/**
 * Asynchronous jobs on this tier: work that can wait (the Job RPC, the OpenAI Batch API) is
 * queued durably on NATS JetStream and served by the tier's executors with the capacity
 * interactive traffic leaves over. Tiers without it refuse jobs.
 */
export const asyncSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Jobs one executor process serves at once. */
  max_concurrency: z.number().int().positive().default(4),
  /**
   * An executor takes a job only while the interactive requests it holds in its bulkhead are
   * fewer than this share of the bulkhead's max_concurrency, so jobs never crowd them out.
   */
  interactive_below: fraction.default(0.5),
  /**
   * ...and only while the executor's event loop was busy less than this share of the last
   * half second (1 = no limit): jobs never take the CPU that interactive streams need.
   */
  event_loop_utilization_below: fraction.default(0.9),
  /**
   * ...and only while the event loop's delay (p99 over the last half second) stayed under
   * this many ms (0 = no limit): on cores shared with other work, the loop lags before it
   * looks busy. 50 to 100 suits a busy machine.
   */
  event_loop_delay_below_ms: z.number().int().nonnegative().default(0),
  /** How long a finished job (and its result) stays readable; also the longest completion window. */
  retention_hours: z.number().positive().default(72),
  /** Deliveries of one job (first included) before it fails and goes to the dead-letter subject. */
  max_deliveries: z.number().int().min(1).max(20).default(3),
  /**
   * A job whose executor neither finished nor reported progress for this long is delivered
   * again (an executor reports progress every third of it while a job runs).
   */
  ack_wait_ms: positiveMs.min(1_000).default(30_000),
  /**
   * Jobs are served earliest deadline first, in bands of this many seconds (a job's deadline
   * floored to it): bands in deadline order, and within a band in submission order. A narrower
   * band orders more exactly at the cost of more consumers on the jobs stream.
   */
  deadline_band_seconds: z.number().int().min(1).max(86_400).default(300),
});

export type AsyncConfig = z.output<typeof asyncSchema>;

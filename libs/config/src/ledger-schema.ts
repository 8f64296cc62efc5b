import { z } from "zod";
import { positiveMs } from "./schema-parts.js";

const natsName = z.string().regex(/^[A-Za-z0-9_-]+$/, "expected letters, digits, _ or -");

/**
 * The usage ledger: routers append one record per finished request to a JetStream stream
 * (subject `<nats.subject_prefix>.ledger.<tenant>`); the leading health monitor folds it into
 * hourly aggregates in a key-value bucket, which budgets and reports read.
 */
export const ledgerSchema = z.strictObject({
  /** JetStream stream holding the records (file storage). */
  stream: natsName.default("tiermesh_ledger"),
  /** Records older than this are removed from the stream (the aggregates stay). */
  retention_days: z.number().int().positive().default(400),
  /** The stream drops a record whose request id it stored within this window (retried appends). */
  dedup_window_ms: positiveMs.default(600_000),
  /** Key-value bucket of the hourly aggregates per tenant × tier. */
  aggregates_bucket: natsName.default("tiermesh_usage"),
  /** Key-value bucket where routers reserve budget for requests in flight. */
  holds_bucket: natsName.default("tiermesh_budget_holds"),
  /** A router's hold not refreshed for this long is ignored (the router died). */
  hold_ttl_ms: positiveMs.default(30_000),
  /**
   * Records a router keeps while JetStream has not acknowledged them. Past this bound new
   * records are refused and counted (tiermesh_router_ledger_dropped_total); accepted ones are
   * retried until stored.
   */
  max_buffered: z.number().int().positive().default(100_000),
  /** Longest time a record waits before it is sent. */
  flush_ms: positiveMs.default(100),
});

export type LedgerConfig = z.output<typeof ledgerSchema>;

import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { OutcomeBatchSchema, OutcomeSchema, OutcomeStatus, type ExecutorLoad, type Outcome, type OutcomeBatch } from "@tiermesh/proto";
import { spanContextOf, Messaging, type SpanContext, type Tracer } from "@tiermesh/telemetry";
import { startSend } from "./message-tracing.js";
import type { NatsLink } from "./nats-link.js";
import { encodeOutcomes } from "./status-codec.js";

export type OutcomeInit = MessageInitShape<typeof OutcomeSchema>;

export interface OutcomeReporterOptions {
  link: NatsLink;
  subject: string;
  executorId: string;
  tier: string;
  /** The executor's current load, sent with every batch. */
  load?: () => Omit<ExecutorLoad, "$typeName">;
  /** A batch (possibly empty) is sent at least this often, so load is seen while idle. */
  heartbeatMs?: number;
  /** Longest time an outcome waits before it is published. */
  flushMs?: number;
  /** Outcomes per published batch. */
  maxBatch?: number;
  /** Outcomes kept while NATS is unreachable; older ones are dropped beyond this. */
  maxBuffered?: number;
  /**
   * Traces batches that hold traced outcomes: a `send` span per such batch, linked to each
   * outcome's attempt, its context in the message headers. Undefined while tracing is off.
   */
  tracer?: Tracer | undefined;
}

/**
 * Batches request outcomes and publishes them on NATS off the request path:
 * `report` only appends to a buffer. A batch leaves at most `flushMs` after its first
 * outcome, except that urgent outcomes (stalls, by default) leave at once: everything
 * reported in the same turn of the event loop goes out in one batch right after it.
 */
export class OutcomeReporter {
  private buffer: Outcome[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly heartbeat: NodeJS.Timeout;
  private lastSent = 0;
  private dropped = 0;
  /** A flush is queued for the end of this turn of the event loop. */
  private urgent = false;
  private readonly flushMs: number;
  private readonly maxBatch: number;
  private readonly maxBuffered: number;

  constructor(private readonly options: OutcomeReporterOptions) {
    this.flushMs = options.flushMs ?? 50;
    this.maxBatch = options.maxBatch ?? 500;
    this.maxBuffered = options.maxBuffered ?? 20_000;
    const every = options.heartbeatMs ?? 1_000;
    this.heartbeat = setInterval(() => {
      if (Date.now() - this.lastSent >= every) this.flush(true);
    }, every);
    this.heartbeat.unref();
  }

  /** Outcomes dropped because NATS was unreachable for too long. */
  get droppedCount(): number {
    return this.dropped;
  }

  /**
   * Buffers one outcome. `urgent` (default: the outcome is a stall, which the monitor should
   * see before the batch delay) publishes it, with whatever else is buffered, right away.
   */
  report(outcome: OutcomeInit, options: { urgent?: boolean } = {}): void {
    this.buffer.push(create(OutcomeSchema, outcome));
    if (this.buffer.length > this.maxBuffered) {
      const excess = this.buffer.length - this.maxBuffered;
      this.buffer.splice(0, excess);
      this.dropped += excess;
    }
    if (this.buffer.length >= this.maxBatch) this.flush();
    else if (options.urgent ?? outcome.status === OutcomeStatus.STALLED) this.flushNow();
    else this.timer ??= setTimeout(() => this.flush(), this.flushMs);
  }

  /**
   * Publishes what is buffered as soon as the current synchronous work is done, so outcomes
   * reported together (every attempt aborted by one stall) share one batch.
   */
  flushNow(): void {
    if (this.urgent) return;
    this.urgent = true;
    queueMicrotask(() => {
      this.urgent = false;
      this.flush();
    });
  }

  /** Publishes what is buffered; with `evenIfEmpty`, a load-only batch when nothing is. */
  flush(evenIfEmpty = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const nc = this.options.link.connection;
    if (!nc || nc.isClosed() || !this.options.link.connected) {
      if (this.buffer.length > 0) this.timer = setTimeout(() => this.flush(), this.flushMs * 4);
      return;
    }
    const { executorId, tier } = this.options;
    do {
      const outcomes = this.buffer.splice(0, this.maxBatch);
      if (outcomes.length === 0 && !evenIfEmpty) break;
      const batch = create(OutcomeBatchSchema, { executorId, tier, outcomes, ...(this.options.load ? { load: this.options.load() } : {}) });
      this.publish(nc, batch);
      this.lastSent = Date.now();
      evenIfEmpty = false;
    } while (this.buffer.length > 0);
  }

  private publish(nc: NonNullable<NatsLink["connection"]>, batch: OutcomeBatch): void {
    const bytes = encodeOutcomes(batch);
    const tracer = this.options.tracer;
    const links = tracer ? tracedOutcomes(batch.outcomes) : [];
    if (!tracer || links.length === 0) return nc.publish(this.options.subject, bytes);
    // One batch mixes many requests: it is a trace of its own, linked to every attempt it reports.
    const { span, headers } = startSend(tracer, this.options.subject, links, {
      [Messaging.batchCount]: batch.outcomes.length,
      [Messaging.bodySize]: bytes.length,
    });
    nc.publish(this.options.subject, bytes, { headers });
    span.end();
  }

  close(): void {
    clearInterval(this.heartbeat);
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** The contexts of the traced outcomes of a batch (those whose attempt was sampled). */
export function tracedOutcomes(outcomes: readonly Outcome[]): SpanContext[] {
  const contexts: SpanContext[] = [];
  for (const o of outcomes) {
    const context = o.traceparent ? spanContextOf(o) : undefined;
    if (context) contexts.push(context);
  }
  return contexts;
}

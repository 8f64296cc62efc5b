import type { MsgHdrs } from "@nats-io/transport-node";
import { OutcomeStatus, type OutcomeBatch } from "@tiermesh/proto";
import { spanContextOf, Tiermesh, type Span, type SpanContext, type Tracer } from "@tiermesh/telemetry";
import { senderOf, startProcess } from "@tiermesh/tier-status";

/** The traced outcomes of one received batch. */
export interface TracedBatch {
  /** A `process` span for outcome `i` of the batch, when its attempt was traced; end it once recorded. */
  process(i: number): Span | undefined;
  /** The traced outcomes' contexts, for a state change they lead to. */
  readonly causes: readonly SpanContext[];
}

/**
 * How the monitor traces the outcomes it receives. A batch mixes the attempts of many
 * requests, so each traced outcome gets its own `process` span in its request's trace (child
 * of the attempt's span, whose context the outcome carries), linked to the batch's `send` span
 * (whose context the message headers carry). Untraced outcomes cost nothing.
 */
export class OutcomeTracing {
  constructor(private readonly tracer: Tracer) {}

  receive(subject: string, headers: MsgHdrs | undefined, batch: OutcomeBatch): TracedBatch | undefined {
    const contexts = batch.outcomes.map((o) => (o.traceparent ? spanContextOf(o) : undefined));
    const causes = contexts.filter((c): c is SpanContext => c !== undefined);
    if (causes.length === 0) return undefined;
    const sender = senderOf(headers);
    return {
      causes,
      process: (i) => {
        const parent = contexts[i];
        const o = batch.outcomes[i];
        if (!parent || !o) return undefined;
        return startProcess(this.tracer, subject, parent, sender, {
          [Tiermesh.tier]: o.tier,
          [Tiermesh.deployment]: o.deployment,
          [Tiermesh.outcomeStatus]: OutcomeStatus[o.status],
          "messaging.batch.message_count": batch.outcomes.length,
        });
      },
    };
  }
}

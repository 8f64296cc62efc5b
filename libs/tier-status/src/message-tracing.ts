import { headers as natsHeadersOf, type MsgHdrs } from "@nats-io/transport-node";
import {
  Messaging,
  natsHeaders,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@tiermesh/telemetry";

/**
 * Messaging spans for NATS, after the OpenTelemetry messaging conventions: `send <subject>`
 * (PRODUCER) with its W3C trace context in the message headers, `process <subject>` (CONSUMER)
 * on the other side.
 */

/** A `send` span for a message caused by what `links` name; its context goes in the returned headers. */
export function startSend(
  tracer: Tracer,
  subject: string,
  links: readonly SpanContext[],
  attributes: Attributes = {},
): { span: Span; headers: MsgHdrs } {
  const span = tracer.startSpan(
    `send ${subject}`,
    {
      kind: SpanKind.PRODUCER,
      links: links.map((context): Link => ({ context })),
      attributes: { [Messaging.system]: "nats", [Messaging.operationType]: "send", [Messaging.destination]: subject, ...attributes },
    },
    ROOT_CONTEXT,
  );
  const headers = natsHeadersOf();
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), headers, natsHeaders);
  return { span, headers };
}

/** The trace context a received message carries in its headers, if any. */
export function senderOf(headers: MsgHdrs | undefined): SpanContext | undefined {
  if (!headers?.has("traceparent")) return undefined;
  return trace.getSpanContext(propagation.extract(ROOT_CONTEXT, headers, natsHeaders));
}

/** A `process` span: child of `parent` (the context the item was created in), linked to the message that brought it. */
export function startProcess(
  tracer: Tracer,
  subject: string,
  parent: SpanContext | undefined,
  message: SpanContext | undefined,
  attributes: Attributes = {},
): Span {
  const context: Context = parent ? trace.setSpanContext(ROOT_CONTEXT, parent) : ROOT_CONTEXT;
  return tracer.startSpan(
    `process ${subject}`,
    {
      kind: SpanKind.CONSUMER,
      ...(message && message !== parent ? { links: [{ context: message }] } : {}),
      attributes: { [Messaging.system]: "nats", [Messaging.operationType]: "process", [Messaging.destination]: subject, ...attributes },
    },
    context,
  );
}

/** Whether a context was sampled (recorded and exported) by whoever made it. */
export const isSampled = (context: SpanContext | undefined): context is SpanContext =>
  context !== undefined && (context.traceFlags & TraceFlags.SAMPLED) !== 0;

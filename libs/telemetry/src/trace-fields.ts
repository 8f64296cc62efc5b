import { context, propagation, trace, TraceFlags, type Context, type Span, type SpanContext } from "@opentelemetry/api";
import { recordCarrier } from "./carriers.js";

/** A W3C trace context as two text fields, for a message that carries several (an outcome in a batch). */
export interface TraceFields {
  traceparent: string;
  tracestate: string;
}

const NONE: TraceFields = { traceparent: "", tracestate: "" };

/** The fields of a span that is sampled (recorded and exported); empty ones for anything else. */
export function traceFieldsOf(span: Span | undefined): TraceFields {
  if (!span || !(span.spanContext().traceFlags & TraceFlags.SAMPLED)) return NONE;
  const record: Record<string, string> = {};
  propagation.inject(trace.setSpan(context.active(), span), record, recordCarrier);
  return { traceparent: record["traceparent"] ?? "", tracestate: record["tracestate"] ?? "" };
}

/** The span context the fields name, or undefined when they are empty or malformed. */
export function spanContextOf(fields: TraceFields): SpanContext | undefined {
  if (!fields.traceparent) return undefined;
  const record: Record<string, string> = { traceparent: fields.traceparent };
  if (fields.tracestate) record["tracestate"] = fields.tracestate;
  const extracted: Context = propagation.extract(context.active(), record, recordCarrier);
  return trace.getSpanContext(extracted);
}

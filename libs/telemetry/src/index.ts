export { startTracing, tracerFor, type StartTracingOptions, type Tracing } from "./tracing.js";
export { GenAI, Messaging, Tiermesh } from "./attributes.js";
export { fetchHeaders, natsHeaders, nodeHeaders, recordCarrier, type NatsHeaderLike } from "./carriers.js";
export { spanContextOf, traceFieldsOf, type TraceFields } from "./trace-fields.js";
export { endSpan, failSpan } from "./span-end.js";
export {
  context,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";

import { SpanStatusCode, type Span } from "@opentelemetry/api";

// Loaded whether tracing is on or not: only the API here, never the (large) conventions package.
const ATTR_ERROR_TYPE = "error.type";

/** Marks a span failed: status ERROR with the message, `error.type`, and the exception as an event. */
export function failSpan(span: Span | undefined, cause: unknown, errorType?: string): void {
  if (!span) return;
  const err = cause instanceof Error ? cause : new Error(String(cause));
  span.recordException(err);
  span.setAttribute(ATTR_ERROR_TYPE, errorType ?? err.name);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
}

/** Ends a span, failed when `cause` is given. */
export function endSpan(span: Span | undefined, cause?: unknown, errorType?: string): void {
  if (!span) return;
  if (cause !== undefined) failSpan(span, cause, errorType);
  span.end();
}

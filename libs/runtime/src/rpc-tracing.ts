import {
  Code,
  ConnectError,
  createContextKey,
  type HandlerContext,
  type Interceptor,
  type StreamResponse,
  type UnaryResponse,
} from "@connectrpc/connect";
import {
  endSpan,
  fetchHeaders,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  trace,
  type Context,
  type Span,
  type Tracer,
} from "@tiermesh/telemetry";

/**
 * The OpenTelemetry context of a call. A caller puts its own in the call options'
 * `contextValues` so the call's client span is its child; a handler reads the server span's
 * from `ctx.values` (see traceContextOf) to parent what it does for the call. Explicit, not
 * ambient: streams and generators would lose an async-local context on the way.
 */
export const TRACE_CONTEXT = createContextKey<Context | undefined>(undefined, { description: "OpenTelemetry context of the call" });

/** The context a handler's own spans are children of (the call's server span), if the call is traced. */
export function traceContextOf(ctx: HandlerContext): Context | undefined {
  return ctx.values.get(TRACE_CONTEXT);
}

/** Health checks are polled all the time and tell nothing about requests: never traced. */
const UNTRACED_SERVICES = new Set(["grpc.health.v1.Health"]);

/** Codes that are the server's failure (the others are the caller's): a server span is an error only for these. */
const SERVER_ERROR_CODES = new Set([
  Code.Unknown,
  Code.DeadlineExceeded,
  Code.Unimplemented,
  Code.Internal,
  Code.Unavailable,
  Code.DataLoss,
]);

/** gRPC's spelling of a status code: DEADLINE_EXCEEDED. */
const statusName = (code: Code) => Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

export interface ClientTracingOptions {
  /** `rpc.system.name`; "grpc" for the mesh transport. */
  system?: string;
  /** The server's URL, for `server.address` and `server.port`. */
  peer?: URL | undefined;
  /** Set on every span (the tier an executor serves, say). */
  attributes?: Readonly<Record<string, string | number | boolean>>;
}

/**
 * A client interceptor: one CLIENT span per call, named for the method, child of the context in
 * the call's TRACE_CONTEXT (a root span when there is none), with its W3C trace context sent in
 * the request headers. Ends when the answer is complete (a stream: when read to its end,
 * failed, or given up). None without a tracer.
 */
export function clientTracing(tracer: Tracer | undefined, options: ClientTracingOptions = {}): Interceptor[] {
  if (!tracer) return [];
  const system = options.system ?? "grpc";
  const fixed: Record<string, string | number | boolean> = { "rpc.system.name": system, ...options.attributes };
  if (options.peer) {
    fixed["server.address"] = options.peer.hostname;
    fixed["server.port"] = Number(options.peer.port || (options.peer.protocol === "https:" ? 443 : 80));
  }
  return [
    (next) => async (req) => {
      if (UNTRACED_SERVICES.has(req.service.typeName)) return next(req);
      const parent = req.contextValues.get(TRACE_CONTEXT) ?? ROOT_CONTEXT;
      const method = `${req.service.typeName}/${req.method.name}`;
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.CLIENT,
          attributes: { ...fixed, "rpc.method": method },
        },
        parent,
      );
      propagation.inject(trace.setSpan(parent, span), req.header, fetchHeaders);
      // Every failure is the client's call failing, except a cancellation it asked for (a lost hedge race, a watch closed).
      return settle(span, next(req), (code) => code !== Code.Canceled, req.signal);
    },
  ];
}

/**
 * A server interceptor: one SERVER span per call, child of the caller's W3C trace context
 * from the request headers, and put in the call's TRACE_CONTEXT for the handler. None without
 * a tracer.
 */
export function serverTracing(tracer: Tracer | undefined): Interceptor[] {
  if (!tracer) return [];
  return [
    (next) => async (req) => {
      if (UNTRACED_SERVICES.has(req.service.typeName)) return next(req);
      const parent = propagation.extract(ROOT_CONTEXT, req.header, fetchHeaders);
      const method = `${req.service.typeName}/${req.method.name}`;
      const contentType = req.header.get("content-type") ?? "";
      const span = tracer.startSpan(
        method,
        {
          kind: SpanKind.SERVER,
          attributes: { "rpc.system.name": contentType.startsWith("application/grpc") ? "grpc" : "connectrpc", "rpc.method": method },
        },
        parent,
      );
      req.contextValues.set(TRACE_CONTEXT, trace.setSpan(parent, span));
      return settle(span, next(req), (code) => SERVER_ERROR_CODES.has(code), req.signal);
    },
  ];
}

/**
 * Ends `span` with the call: at once for a unary answer; for a stream, when its messages end, or
 * when the call's signal aborts (a client that stops reading is not heard of otherwise: Connect's
 * clients drop `return`, and cancel through the signal).
 */
async function settle<R extends UnaryResponse | StreamResponse>(
  span: Span,
  response: Promise<R>,
  isError: (code: Code) => boolean,
  signal: AbortSignal,
): Promise<R> {
  let res: R;
  try {
    res = await response;
  } catch (cause) {
    finish(span, cause, isError);
    throw cause;
  }
  if (!res.stream) {
    finish(span, undefined, isError);
    return res;
  }
  let ended = false;
  const end = (cause: unknown) => {
    if (ended) return;
    ended = true;
    signal.removeEventListener("abort", onAbort);
    finish(span, cause, isError);
  };
  const onAbort = () => end(ConnectError.from(signal.reason, Code.Canceled));
  if (signal.aborted) onAbort();
  else signal.addEventListener("abort", onAbort, { once: true });
  return { ...res, message: endingWith(res.message, end) };
}

async function* endingWith<T>(messages: AsyncIterable<T>, end: (cause: unknown) => void): AsyncGenerator<T> {
  let outcome: unknown = new ConnectError("stream given up before its end", Code.Canceled);
  try {
    for await (const m of messages) yield m;
    outcome = undefined;
  } catch (cause) {
    outcome = cause;
    throw cause;
  } finally {
    end(outcome);
  }
}

function finish(span: Span, cause: unknown, isError: (code: Code) => boolean): void {
  if (cause === undefined) {
    span.setAttribute("rpc.status_code", "OK");
    return endSpan(span);
  }
  const err = ConnectError.from(cause);
  const status = statusName(err.code);
  span.setAttribute("rpc.status_code", status);
  if (isError(err.code)) return endSpan(span, err, status);
  span.end();
}

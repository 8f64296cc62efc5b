import { create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createHandlerContext,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
  type StreamRequest,
  type Transport,
  type UnaryRequest,
} from "@connectrpc/connect";
import { applyInterceptors } from "./intercepted-transport.js";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** The reason a finished call's context is closed with (a reason given up front costs no DOMException). */
const CALL_OVER = new ConnectError("call over", Code.Canceled);

export interface InProcessTransportOptions {
  /** Server-side interceptors, as the service's own server runs them (its tracing, say). */
  interceptors?: Interceptor[];
}

/**
 * A transport that calls a service implementation in this process directly, for services
 * deployed together (one-process mode): clients made with `createClient` work unchanged, but a
 * call crosses no serialization, no HTTP and no handler pipeline. The implementation gets a real
 * HandlerContext: the caller's signal and deadline, request headers, and context values of its
 * own (as over a network, the caller's stay with the caller). Unary and server-streaming methods
 * (the ones tiermesh services have). Client interceptors go around the transport
 * (withInterceptors); the service's server interceptors, when given, around the implementation.
 */
export function createInProcessTransport<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: InProcessTransportOptions = {},
): Transport {
  const spec = createServiceImplSpec(service, impl);
  const methods = new Map<DescMethod, MethodImplSpec>(Object.values(spec.methods).map((m) => [m.method, m]));
  const interceptors = options.interceptors ?? [];
  const contextFor = (
    method: DescMethod,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: HeadersInit | undefined,
  ) =>
    createHandlerContext({
      service,
      method,
      protocolName: "in-process",
      requestMethod: "POST",
      url: `in-process:/${service.typeName}/${method.name}`,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(signal ? { requestSignal: signal } : {}),
      ...(header ? { requestHeader: header } : {}),
    });
  const messageOf = <O extends DescMessage>(schema: O, value: unknown) =>
    isMessage(value, schema) ? value : create(schema, value as MessageInitShape<O>);
  const unimplemented = (method: DescMethod) =>
    new ConnectError(`${service.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);
  /** The request as server interceptors see it, and the context the implementation gets after them. */
  const requestOf = (ctx: HandlerContext, stream: boolean, message: unknown) =>
    ({
      stream,
      service,
      method: ctx.method,
      requestMethod: "POST",
      url: ctx.url,
      signal: ctx.signal,
      header: ctx.requestHeader,
      contextValues: ctx.values,
      message,
    }) as UnaryRequest | StreamRequest;
  const merged = (ctx: HandlerContext, req: UnaryRequest | StreamRequest): HandlerContext =>
    req.header === ctx.requestHeader && req.contextValues === ctx.values && req.signal === ctx.signal
      ? ctx
      : { ...ctx, requestHeader: req.header, values: req.contextValues, signal: req.signal };

  return {
    async unary(method, signal, timeoutMs, header, input) {
      const m = methods.get(method);
      if (m?.kind !== "unary") throw unimplemented(method);
      const ctx = contextFor(method, signal, timeoutMs, header);
      try {
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
        const request = messageOf(method.input, input);
        if (interceptors.length === 0) {
          const output = await m.impl(request, ctx);
          return {
            stream: false,
            service,
            method,
            header: ctx.responseHeader,
            message: messageOf(method.output, output),
            trailer: ctx.responseTrailer,
          };
        }
        const call = applyInterceptors(async (req) => {
          const output = await m.impl((req as UnaryRequest).message, merged(ctx, req));
          return {
            stream: false,
            service,
            method,
            header: ctx.responseHeader,
            message: messageOf(method.output, output),
            trailer: ctx.responseTrailer,
          };
        }, interceptors);
        return (await call(requestOf(ctx, false, request))) as never;
      } catch (cause) {
        throw ConnectError.from(cause);
      } finally {
        ctx.abort(CALL_OVER);
      }
    },
    async stream(method, signal, timeoutMs, header, input) {
      const m = methods.get(method);
      if (m?.kind !== "server_streaming") throw unimplemented(method);
      let request: unknown;
      for await (const r of input) {
        request = r;
        break;
      }
      const ctx = contextFor(method, signal, timeoutMs, header);
      if (ctx.signal.aborted) {
        ctx.abort(CALL_OVER);
        throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      }
      let outputs: AsyncIterator<unknown>;
      if (interceptors.length === 0) {
        outputs = m.impl(messageOf(method.input, request), ctx)[Symbol.asyncIterator]();
      } else {
        const call = applyInterceptors(async (req) => {
          const first = await (req as StreamRequest).message[Symbol.asyncIterator]().next();
          const produced = m.impl(first.value as never, merged(ctx, req));
          return { stream: true, service, method, header: ctx.responseHeader, message: produced, trailer: ctx.responseTrailer } as never;
        }, interceptors);
        try {
          const res = await call(requestOf(ctx, true, singleMessage(messageOf(method.input, request))));
          outputs = (res as { message: AsyncIterable<unknown> }).message[Symbol.asyncIterator]();
        } catch (cause) {
          ctx.abort(CALL_OVER);
          throw ConnectError.from(cause);
        }
      }
      // A caller that stops reading cancels its call: the implementation's stream is closed then.
      ctx.signal.addEventListener("abort", () => void outputs.return?.()?.catch(() => undefined), { once: true });
      async function* messages() {
        try {
          for (let step = await outputs.next(); !step.done; step = await outputs.next()) yield messageOf(method.output, step.value);
        } catch (cause) {
          throw ConnectError.from(cause);
        } finally {
          ctx.abort(CALL_OVER);
        }
      }
      // The client reads `message` only after this resolves: the handler runs as it is read.
      return { stream: true, service, method, header: ctx.responseHeader, message: messages(), trailer: ctx.responseTrailer } as never;
    },
  };
}

async function* singleMessage<T>(message: T): AsyncGenerator<T> {
  yield message;
}

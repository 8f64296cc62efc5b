import { create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createServiceImplSpec,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type ServiceImpl,
  type StreamRequest,
  type StreamResponse,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import type { CallContext } from "./call-context.js";
import { applyInterceptors } from "./intercepted-transport.js";

/** The reason a finished call's context is closed with (a reason given up front costs no DOMException). */
const CALL_OVER = new ConnectError("call over", Code.Canceled);

/** Calls a service implementation in this process, for a call whose context is already made. */
export interface ServiceInvoker {
  unary(method: DescMethod, ctx: CallContext, input: unknown): Promise<UnaryResponse>;
  /** Server-streaming: the first input is the request. Client- and bidi-streaming: all of them. */
  stream(method: DescMethod, ctx: CallContext, input: AsyncIterable<unknown> | Iterable<unknown>): Promise<StreamResponse>;
}

/**
 * Runs `impl`'s methods with `interceptors` (server-side, the first outermost) around them, as
 * a server would: the context is closed when the call ends, a stream's reader that stops early
 * closes the implementation's stream, and errors leave as ConnectErrors. Used by the in-process
 * transport and the gRPC server, each making the call's context its own way.
 */
export function createServiceInvoker<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  interceptors: readonly Interceptor[] = [],
): ServiceInvoker {
  const spec = createServiceImplSpec(service, impl);
  const methods = new Map<DescMethod, MethodImplSpec>(Object.values(spec.methods).map((m) => [m.method, m]));
  const messageOf = <O extends DescMessage>(schema: O, value: unknown) =>
    isMessage(value, schema) ? value : create(schema, value as MessageInitShape<O>);
  const unimplemented = (method: DescMethod) =>
    new ConnectError(`${service.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);
  /** The request as server interceptors see it. */
  const requestOf = (ctx: CallContext, stream: boolean, message: unknown) =>
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
  const after = (ctx: CallContext, req: UnaryRequest | StreamRequest): HandlerContext =>
    ctx.after(req.header, req.contextValues, req.signal);
  const responseOf = (ctx: CallContext, method: DescMethod, stream: boolean, message: unknown) =>
    new CallResponse(ctx, service, method, stream, message) as never;

  return {
    async unary(method, ctx, input) {
      const m = methods.get(method);
      try {
        if (m?.kind !== "unary") throw unimplemented(method);
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
        const request = messageOf(method.input, input);
        if (interceptors.length === 0) return responseOf(ctx, method, false, messageOf(method.output, await m.impl(request, ctx)));
        const call = applyInterceptors(
          async (req) =>
            responseOf(ctx, method, false, messageOf(method.output, await m.impl((req as UnaryRequest).message, after(ctx, req)))),
          interceptors,
        );
        return (await call(requestOf(ctx, false, request))) as UnaryResponse;
      } catch (cause) {
        throw ConnectError.from(cause);
      } finally {
        ctx.abort(CALL_OVER);
      }
    },
    async stream(method, ctx, input) {
      const m = methods.get(method);
      if (m === undefined || m.kind === "unary") {
        ctx.abort(CALL_OVER);
        throw unimplemented(method);
      }
      let requests: AsyncIterable<unknown>;
      if (m.kind === "server_streaming") {
        let request: unknown;
        for await (const r of input) {
          request = r;
          break;
        }
        requests = singleMessage(messageOf(method.input, request));
      } else {
        requests = mapMessages(input, (r) => messageOf(method.input, r));
      }
      if (ctx.signal.aborted) {
        ctx.abort(CALL_OVER);
        throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      }
      /** What the implementation produces for these requests, whichever streaming kind it is. */
      const produce = async (reqs: AsyncIterable<unknown>, c: HandlerContext): Promise<AsyncIterable<unknown>> => {
        switch (m.kind) {
          case "server_streaming": {
            const first = await reqs[Symbol.asyncIterator]().next();
            return m.impl(first.value as never, c);
          }
          case "client_streaming":
            return singleMessage(await m.impl(reqs as never, c));
          default:
            return m.impl(reqs as never, c);
        }
      };
      let outputs: AsyncIterator<unknown>;
      try {
        if (interceptors.length === 0) {
          outputs = (await produce(requests, ctx))[Symbol.asyncIterator]();
        } else {
          const call = applyInterceptors(
            async (req) => responseOf(ctx, method, true, await produce((req as StreamRequest).message, after(ctx, req))),
            interceptors,
          );
          const res = await call(requestOf(ctx, true, requests));
          outputs = (res as StreamResponse).message[Symbol.asyncIterator]();
        }
      } catch (cause) {
        ctx.abort(CALL_OVER);
        throw ConnectError.from(cause);
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
      // The caller reads `message` only after this resolves: the handler runs as it is read.
      return responseOf(ctx, method, true, messages());
    },
  };
}

/**
 * A call's response; its headers and trailers are the context's, made only when someone looks
 * at them (a class: an object literal with getters costs microseconds to create).
 */
class CallResponse {
  constructor(
    private readonly ctx: CallContext,
    readonly service: DescService,
    readonly method: DescMethod,
    readonly stream: boolean,
    readonly message: unknown,
  ) {}

  get header(): Headers {
    return this.ctx.responseHeader;
  }

  get trailer(): Headers {
    return this.ctx.responseTrailer;
  }
}

async function* singleMessage<T>(message: T): AsyncGenerator<T> {
  yield message;
}

async function* mapMessages<T>(input: AsyncIterable<unknown> | Iterable<unknown>, map: (value: unknown) => T): AsyncGenerator<T> {
  for await (const value of input) yield map(value);
}

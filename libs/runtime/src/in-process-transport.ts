import { create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createHandlerContext,
  createServiceImplSpec,
  type ContextValues,
  type MethodImplSpec,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";

type HeadersInit = ConstructorParameters<typeof Headers>[0];

/** The reason a finished call's context is closed with (a reason given up front costs no DOMException). */
const CALL_OVER = new ConnectError("call over", Code.Canceled);

/**
 * A transport that calls a service implementation in this process directly, for services
 * deployed together (one-process mode): clients made with `createClient` work unchanged, but a
 * call crosses no serialization, no HTTP and no handler pipeline. The implementation gets a real
 * HandlerContext: the caller's signal and deadline, request headers, context values. Unary and
 * server-streaming methods (the ones tiermesh services have).
 */
export function createInProcessTransport<S extends DescService>(service: S, impl: ServiceImpl<S>): Transport {
  const spec = createServiceImplSpec(service, impl);
  const methods = new Map<DescMethod, MethodImplSpec>(Object.values(spec.methods).map((m) => [m.method, m]));
  const contextFor = (method: DescMethod, signal: AbortSignal | undefined, timeoutMs: number | undefined, header: HeadersInit | undefined, values?: ContextValues) =>
    createHandlerContext({
      service,
      method,
      protocolName: "in-process",
      requestMethod: "POST",
      url: `in-process:/${service.typeName}/${method.name}`,
      ...(timeoutMs !== undefined ? { timeoutMs } : {}),
      ...(signal ? { requestSignal: signal } : {}),
      ...(header ? { requestHeader: header } : {}),
      ...(values ? { contextValues: values } : {}),
    });
  const messageOf = <O extends DescMessage>(schema: O, value: unknown) =>
    isMessage(value, schema) ? value : create(schema, value as MessageInitShape<O>);
  const unimplemented = (method: DescMethod) => new ConnectError(`${service.typeName}/${method.name} is not implemented in this process`, Code.Unimplemented);

  return {
    async unary(method, signal, timeoutMs, header, input, values) {
      const m = methods.get(method);
      if (m?.kind !== "unary") throw unimplemented(method);
      const ctx = contextFor(method, signal, timeoutMs, header, values);
      try {
        if (ctx.signal.aborted) throw ConnectError.from(ctx.signal.reason, Code.Canceled);
        const output = await m.impl(messageOf(method.input, input), ctx);
        return { stream: false, service, method, header: ctx.responseHeader, message: messageOf(method.output, output), trailer: ctx.responseTrailer };
      } catch (cause) {
        throw ConnectError.from(cause);
      } finally {
        ctx.abort(CALL_OVER);
      }
    },
    async stream(method, signal, timeoutMs, header, input, values) {
      const m = methods.get(method);
      if (m?.kind !== "server_streaming") throw unimplemented(method);
      let request: unknown;
      for await (const r of input) {
        request = r;
        break;
      }
      const ctx = contextFor(method, signal, timeoutMs, header, values);
      if (ctx.signal.aborted) {
        ctx.abort(CALL_OVER);
        throw ConnectError.from(ctx.signal.reason, Code.Canceled);
      }
      const outputs = m.impl(messageOf(method.input, request), ctx)[Symbol.asyncIterator]();
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

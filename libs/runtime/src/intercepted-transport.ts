import type { DescMethod } from "@bufbuild/protobuf";
import {
  type ContextValues,
  createContextValues,
  type Interceptor,
  type StreamRequest,
  type StreamResponse,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

type HeadersInit = ConstructorParameters<typeof Headers>[0];
type AnyCall = (req: UnaryRequest | StreamRequest) => Promise<UnaryResponse | StreamResponse>;

/** `call` wrapped in `interceptors`, the first outermost (as Connect applies them). */
export function applyInterceptors(call: AnyCall, interceptors: readonly Interceptor[]): AnyCall {
  return interceptors.reduceRight<AnyCall>((next, interceptor) => interceptor(next), call);
}

/** An AbortSignal that never aborts, for calls made without one. */
const NEVER = new AbortController().signal;

/**
 * `transport` with client interceptors around every call, whatever it is (a mesh transport,
 * an in-process one): they see and may change the request's headers and context values,
 * and see the response. Unchanged when there are none.
 */
export function withInterceptors(transport: Transport, interceptors: Interceptor[]): Transport {
  if (interceptors.length === 0) return transport;
  /** The request interceptors see, before the call goes on to `transport`. */
  const requestOf = (
    stream: boolean,
    method: DescMethod,
    signal: AbortSignal | undefined,
    header: HeadersInit | undefined,
    message: unknown,
    contextValues: ContextValues | undefined,
  ) =>
    ({
      stream,
      service: method.parent,
      method,
      requestMethod: "POST",
      url: `/${method.parent.typeName}/${method.name}`,
      signal: signal ?? NEVER,
      header: new Headers(header),
      contextValues: contextValues ?? createContextValues(),
      message,
    }) as UnaryRequest & StreamRequest;
  return {
    unary(method, signal, timeoutMs, header, message, contextValues) {
      const call = applyInterceptors(
        (req: UnaryRequest | StreamRequest): Promise<UnaryResponse | StreamResponse> =>
          transport.unary(method, req.signal, timeoutMs, req.header, (req as UnaryRequest).message as never, req.contextValues),
        interceptors,
      );
      return call(requestOf(false, method, signal, header, message, contextValues)) as never;
    },
    stream(method, signal, timeoutMs, header, input, contextValues) {
      const call = applyInterceptors(
        (req: UnaryRequest | StreamRequest): Promise<UnaryResponse | StreamResponse> =>
          transport.stream(method, req.signal, timeoutMs, req.header, (req as StreamRequest).message as never, req.contextValues),
        interceptors,
      );
      return call(requestOf(true, method, signal, header, input, contextValues)) as never;
    },
  };
}

import type { DescService } from "@bufbuild/protobuf";
import type { Interceptor, ServiceImpl, StreamResponse, Transport, UnaryResponse } from "@connectrpc/connect";
import { CallContext } from "./call-context.js";
import { createServiceInvoker } from "./service-invoker.js";

export interface InProcessTransportOptions {
  /** Server-side interceptors, as the service's own server runs them (its tracing, say). */
  interceptors?: Interceptor[];
}

/**
 * A transport that calls a service implementation in this process directly, for services
 * deployed together (one-process mode): clients made with `createClient` work unchanged, but a
 * call crosses no serialization, no HTTP and no handler pipeline. The implementation gets a real
 * HandlerContext: the caller's signal and deadline, request headers, and context values of its
 * own (as over a network, the caller's stay with the caller). Every kind of method: unary,
 * server-streaming, and client- and bidi-streaming. Client interceptors go around the transport
 * (withInterceptors); the service's server interceptors, when given, around the implementation.
 */
export function createInProcessTransport<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  options: InProcessTransportOptions = {},
): Transport {
  const invoker = createServiceInvoker(service, impl, options.interceptors);
  return {
    unary(method, signal, timeoutMs, header, input) {
      const ctx = new CallContext(service, method, { protocolName: "in-process", signal, timeoutMs, header });
      return invoker.unary(method, ctx, input) as Promise<UnaryResponse<never, never>>;
    },
    stream(method, signal, timeoutMs, header, input) {
      const ctx = new CallContext(service, method, { protocolName: "in-process", signal, timeoutMs, header });
      return invoker.stream(method, ctx, input) as Promise<StreamResponse<never, never>>;
    },
  };
}

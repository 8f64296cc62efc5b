import type { EventEmitter } from "node:events";
import type { Duplex } from "node:stream";
import { fromBinary, toBinary, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import { CallContext } from "./call-context.js";
import { hasEntries, headersOf, metadataOf } from "./grpc-metadata.js";
import { createServiceInvoker, type ServiceInvoker } from "./service-invoker.js";

/** A service as registered on a Connect router: its descriptor and its implementation. */
export interface RegisteredService {
  service: DescService;
  impl: ServiceImpl<DescService>;
}

/** HTTP/2 connections handed over to a gRPC server (@grpc/grpc-js) after the port has accepted them. */
export interface GrpcJsConnections {
  inject(connection: Duplex): void;
  /** Asks every session to end (GOAWAY) and destroys those still open after `graceMs`. */
  drain(graceMs: number): void;
  destroy(): void;
}

const SERVER_OPTIONS: grpc.ServerOptions = {
  // No message-size limits beyond the mesh's own checks (grpc-js would refuse more than 4 MiB).
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
  // Nothing reads channelz here; on, it keeps per-session records and timestamps every message.
  "grpc.enable_channelz": 0,
};
const binary = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

type AnyCall =
  | grpc.ServerUnaryCall<unknown, unknown>
  | grpc.ServerWritableStream<unknown, unknown>
  | grpc.ServerDuplexStream<unknown, unknown>;
type WritableCall = grpc.ServerWritableStream<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/**
 * The same service implementations served by @grpc/grpc-js, which costs less CPU per call than
 * connect-node's HTTP/2 handler path (test/bench/hop-floor.mjs). Handlers get a HandlerContext
 * with the call's deadline, cancellation and headers, run under the same server interceptors
 * as under Connect, and their errors keep their codes, messages, metadata and details.
 */
export function createGrpcJsConnections(services: readonly RegisteredService[], interceptors: Interceptor[] = []): GrpcJsConnections {
  const server = new grpc.Server(SERVER_OPTIONS);
  for (const { service, impl } of services) {
    const invoker = createServiceInvoker(service, impl, interceptors);
    const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of service.methods) {
      const requestStream = method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming";
      definition[method.localName] = {
        path: `/${service.typeName}/${method.name}`,
        requestStream,
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: (m) => binary(toBinary(method.input, m as Message)),
        requestDeserialize: (b: Buffer) => fromBinary(method.input, b),
        responseSerialize: (m) => binary(toBinary(method.output, m as Message)),
        responseDeserialize: (b: Buffer) => fromBinary(method.output, b),
      };
      handlers[method.localName] =
        method.methodKind === "unary" ? unaryHandler(invoker, service, method) : streamHandler(invoker, service, method, requestStream);
    }
    server.addService(definition as grpc.ServiceDefinition, handlers);
  }
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  return {
    inject: (connection) => injector.injectConnection(connection),
    drain: (graceMs) => injector.drain(graceMs),
    destroy: () => {
      injector.destroy();
      server.forceShutdown();
    },
  };
}

/** The call's context: its deadline, its request headers (made when first read), aborted when the client cancels. */
function contextOf(service: DescService, method: DescMethod, call: AnyCall): CallContext {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const timeoutMs = Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
  const ctx = new CallContext(service, method, { protocolName: "grpc", timeoutMs, header: () => requestHeaders(call.metadata) });
  // grpc-js reports every call's end as "cancelled"; only one still running was cancelled.
  (call as EventEmitter).once("cancelled", () => {
    if (ctx.signal.aborted) return;
    ctx.abort(
      Date.now() >= at
        ? new ConnectError("the operation timed out", Code.DeadlineExceeded)
        : new ConnectError("the client cancelled the call", Code.Canceled),
    );
  });
  return ctx;
}

/** Request metadata as headers, with the content type grpc-js keeps to itself (tracing reads it). */
function requestHeaders(md: grpc.Metadata): Headers {
  const headers = headersOf(md);
  if (!headers.has("content-type")) headers.set("content-type", "application/grpc+proto");
  return headers;
}

/** Metadata for headers or trailers a handler set, or undefined when it set none. */
function sent(headers: Headers | undefined): grpc.Metadata | undefined {
  return headers !== undefined && hasEntries(headers) ? metadataOf(headers) : undefined;
}

/** A ConnectError as the status grpc-js sends: code, message, metadata and `grpc-status-details-bin`. */
function statusOf(cause: unknown): Partial<grpc.StatusObject> {
  const err = ConnectError.from(cause);
  const metadata = metadataOf(err.metadata);
  if (err.details.length > 0) {
    const details = setTrailerStatus(new Headers(), err).get("grpc-status-details-bin");
    if (details) metadata.set("grpc-status-details-bin", Buffer.from(details, "base64"));
  }
  return { code: err.code as number as grpc.status, details: err.rawMessage, metadata };
}

function unaryHandler(invoker: ServiceInvoker, service: DescService, method: DescMethod): grpc.handleUnaryCall<unknown, unknown> {
  return (call, callback) => {
    const ctx = contextOf(service, method, call);
    invoker.unary(method, ctx, call.request).then(
      (res) => {
        const header = sent(ctx.sentHeader);
        if (header) call.sendMetadata(header);
        callback(null, res.message, sent(ctx.sentTrailer));
      },
      (err: unknown) => callback(statusOf(err)),
    );
  };
}

function streamHandler(
  invoker: ServiceInvoker,
  service: DescService,
  method: DescMethod,
  requestStream: boolean,
): grpc.handleServerStreamingCall<unknown, unknown> | grpc.handleBidiStreamingCall<unknown, unknown> {
  return (call: WritableCall) => {
    const ctx = contextOf(service, method, call);
    // Reading the requests to their end must not destroy the call: responses may still follow.
    const input = requestStream
      ? (call as grpc.ServerDuplexStream<unknown, unknown>).iterator({ destroyOnReturn: false })
      : [(call as grpc.ServerWritableStream<unknown, unknown>).request];
    void (async () => {
      try {
        const res = await invoker.stream(method, ctx, input);
        // Headers the handler set go out with its first message, or before the end if it sent none.
        let headerSent = false;
        const sendHeader = () => {
          if (headerSent) return;
          headerSent = true;
          const header = sent(ctx.sentHeader);
          if (header) call.sendMetadata(header);
        };
        for await (const message of res.message) {
          if (call.cancelled) return;
          sendHeader();
          if (!call.write(message)) await drained(call, ctx.signal);
        }
        sendHeader();
        call.end(sent(ctx.sentTrailer));
      } catch (err) {
        if (!call.cancelled) call.emit("error", statusOf(err));
      }
    })();
  };
}

/** Resolves when the call's send buffer has room again, or the call ended. */
function drained(call: WritableCall, signal: AbortSignal) {
  return new Promise<void>((resolve) => {
    const done = () => {
      call.off("drain", done);
      signal.removeEventListener("abort", done);
      resolve();
    };
    call.once("drain", done);
    signal.addEventListener("abort", done, { once: true });
  });
}

import {
  create,
  fromBinary,
  isMessage,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type StreamResponse, type Transport, type UnaryResponse } from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import * as grpc from "@grpc/grpc-js";
import { headersOf, metadataOf } from "./grpc-metadata.js";

/** A Connect transport that also closes its channel. */
export interface ClosableTransport extends Transport {
  close(): void;
}

const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // A peer that restarts is reached again within a second, not after gRPC's default backoff (up to 2 min).
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1_000,
  "grpc.keepalive_time_ms": 15_000,
  "grpc.keepalive_timeout_ms": 10_000,
  "grpc.max_receive_message_length": -1,
  "grpc.max_send_message_length": -1,
  // The router retries and falls back by its own policy; grpc-js's transparent retries would
  // only add a buffering layer to every call.
  "grpc.enable_retries": 0,
  // Nothing reads channelz here; on, it counts and timestamps every call.
  "grpc.enable_channelz": 0,
};

interface Codec {
  path: string;
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

/**
 * A Connect `Transport` over @grpc/grpc-js: clients made with `createClient` work unchanged,
 * on one persistent HTTP/2 channel speaking gRPC with binary protobuf. Deadlines travel as
 * `grpc-timeout`, the caller's signal cancels the call, and errors come back as ConnectErrors
 * with their code, message, metadata and details. Unary and server-streaming methods (the
 * ones the mesh calls). grpc-js costs less CPU per call than connect-node's client, on both
 * ends when the server is grpc-js too (test/bench/hop-floor.mjs).
 */
export function createGrpcJsTransport(baseUrl: string): ClosableTransport {
  const url = new URL(baseUrl);
  const client = new grpc.Client(`${url.hostname}:${url.port || "80"}`, grpc.credentials.createInsecure(), CHANNEL_OPTIONS);
  const codecs = new Map<DescMethod, Codec>();
  const codecOf = (method: DescMethod): Codec => {
    let codec = codecs.get(method);
    if (codec === undefined) {
      const input = method.input;
      const output = method.output;
      codec = {
        path: `/${method.parent.typeName}/${method.name}`,
        serialize(value) {
          const bytes = toBinary(input, isMessage(value, input) ? value : create(input, value as MessageInitShape<DescMessage>));
          return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
        },
        deserialize: (bytes) => fromBinary(output, bytes),
      };
      codecs.set(method, codec);
    }
    return codec;
  };
  const callOptions = (timeoutMs: number | undefined): grpc.CallOptions =>
    timeoutMs === undefined ? {} : { deadline: Date.now() + timeoutMs };

  return {
    unary(method, signal, timeoutMs, header, input) {
      return new Promise<UnaryResponse>((resolve, reject) => {
        if (signal?.aborted) return reject(ConnectError.from(signal.reason, Code.Canceled));
        const codec = codecOf(method);
        const received = new Received();
        const call = withoutCallerStack(() =>
          client.makeUnaryRequest(
            codec.path,
            codec.serialize,
            codec.deserialize,
            input,
            metadataOf(header),
            callOptions(timeoutMs),
            (err, message) => {
              signal?.removeEventListener("abort", cancel);
              if (err) return reject(errorOf(err, signal));
              resolve(received.response(method, false, message) as UnaryResponse);
            },
          ),
        );
        const cancel = () => call.cancel();
        signal?.addEventListener("abort", cancel, { once: true });
        received.follow(call);
      }) as never;
    },
    async stream(method, signal, timeoutMs, header, input) {
      if (method.methodKind !== "server_streaming") {
        throw new ConnectError(
          `${method.parent.typeName}/${method.name}: only unary and server-streaming calls go over this transport`,
          Code.Unimplemented,
        );
      }
      let request: unknown;
      for await (const r of input) {
        request = r;
        break;
      }
      if (signal?.aborted) throw ConnectError.from(signal.reason, Code.Canceled);
      const codec = codecOf(method);
      const call = withoutCallerStack(() =>
        client.makeServerStreamRequest(codec.path, codec.serialize, codec.deserialize, request, metadataOf(header), callOptions(timeoutMs)),
      );
      const received = new Received();
      received.follow(call);
      const cancel = () => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
      async function* messages() {
        try {
          for await (const message of call) yield message;
        } catch (err) {
          throw errorOf(err as grpc.ServiceError, signal);
        } finally {
          signal?.removeEventListener("abort", cancel);
          call.cancel(); // a reader that stopped early ends the call; after the end this does nothing
        }
      }
      return received.response(method, true, messages()) as StreamResponse;
    },
    close: () => client.close(),
  } as ClosableTransport;
}

/**
 * Starts a grpc-js call without the stack trace grpc-js captures at every call (`new Error()`,
 * kept for the stack of a failed call's error): this transport raises its own ConnectErrors
 * from the status, so the capture, about 5 µs of a deep async stack per call, buys nothing.
 */
function withoutCallerStack<T>(start: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return start();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A call's response metadata and trailers, turned into Headers only if someone reads them. */
class Received {
  private headerMd: grpc.Metadata | undefined;
  private trailerMd: grpc.Metadata | undefined;
  private header: Headers | undefined;
  private trailer: Headers | undefined;

  follow(call: grpc.ClientUnaryCall | grpc.ClientReadableStream<unknown>): void {
    call.on("metadata", (md: grpc.Metadata) => (this.headerMd = md));
    call.on("status", (status: grpc.StatusObject) => {
      this.trailerMd = status.metadata;
      if (this.trailer !== undefined) for (const [k, v] of headersOf(status.metadata)) this.trailer.append(k, v);
    });
  }

  response(method: DescMethod, stream: boolean, message: unknown): UnaryResponse | StreamResponse {
    return new ReceivedResponse(this, method, stream, message) as unknown as UnaryResponse | StreamResponse;
  }

  headerOf(): Headers {
    this.header ??= headersOf(this.headerMd);
    return this.header;
  }

  // A stream's trailers arrive after its last message: read before then, they fill in later.
  trailerOf(): Headers {
    this.trailer ??= headersOf(this.trailerMd);
    return this.trailer;
  }
}

/** A response whose headers are made on first read (a class: an object literal with getters costs microseconds to create). */
class ReceivedResponse {
  readonly service: DescService;
  constructor(
    private readonly received: Received,
    readonly method: DescMethod,
    readonly stream: boolean,
    readonly message: unknown,
  ) {
    this.service = method.parent;
  }

  get header(): Headers {
    return this.received.headerOf();
  }

  get trailer(): Headers {
    return this.received.trailerOf();
  }
}

/**
 * A grpc-js call error as the ConnectError a Connect transport would have raised: a call the
 * caller cancelled carries the caller's reason; details are decoded from `grpc-status-details-bin`.
 */
function errorOf(err: grpc.ServiceError | Error, signal: AbortSignal | undefined): ConnectError {
  if (signal?.aborted) return ConnectError.from(signal.reason, Code.Canceled);
  if (!("code" in err) || typeof err.code !== "number") return ConnectError.from(err, Code.Internal);
  const trailer = headersOf(err.metadata);
  trailer.set("grpc-status", String(err.code));
  trailer.set("grpc-message", encodeURIComponent(err.details ?? ""));
  const found = findTrailerError(trailer);
  if (found === undefined) return new ConnectError(err.details ?? "", err.code as number as Code, headersOf(err.metadata));
  const error = new ConnectError(found.rawMessage, found.code, headersOf(err.metadata), undefined, err);
  error.details.push(...found.details);
  return error;
}

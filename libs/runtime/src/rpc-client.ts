import * as net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";

/**
 * A transport for calls to tiermesh services served by connect-node (router, classifier,
 * monitor, launcher): the Connect protocol with binary protobuf over one persistent HTTP/2
 * connection, kept alive with pings. Against connect-node, Connect costs less CPU per call
 * than gRPC (no trailers to parse, a lighter envelope path in connect-es). Tier executors
 * speak gRPC alone on HTTP/2: call them with `createGrpcJsTransport`.
 */
export function createMeshTransport(baseUrl: string): Transport {
  return createConnectTransport({
    baseUrl,
    httpVersion: "2",
    useBinaryFormat: true,
    pingIntervalMs: 15_000,
    pingIdleConnection: true,
    idleConnectionTimeoutMs: 15 * 60_000,
    acceptCompression: [],
    nodeOptions: {
      // Small gRPC frames must not wait for ACKs (Nagle), or every hop pays milliseconds.
      createConnection: (authority: URL) => net.connect({ host: authority.hostname, port: Number(authority.port || 80), noDelay: true }),
    },
  });
}

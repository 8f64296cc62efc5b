import * as net from "node:net";
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";

/**
 * A transport for calls between tiermesh services: gRPC with binary protobuf over
 * one persistent HTTP/2 connection, kept alive with pings.
 */
export function createMeshTransport(baseUrl: string): Transport {
  return createGrpcTransport({
    baseUrl,
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

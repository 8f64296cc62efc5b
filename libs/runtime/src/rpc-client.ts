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
  });
}

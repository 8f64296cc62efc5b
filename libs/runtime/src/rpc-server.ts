import * as http2 from "node:http2";
import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Health } from "@tiermesh/proto";
import { splitHostPort } from "@tiermesh/config";
import { createHealthService, HealthStatus, ServingStatus } from "./health-service.js";
import type { Logger } from "./logger.js";

export interface RpcServerOptions {
  /** Registers the service's own routes. */
  routes: (router: ConnectRouter) => void;
  /** Fully-qualified names of the services registered, for health checking. */
  serviceNames: readonly string[];
  logger: Logger;
}

export interface RpcServer {
  readonly http2: http2.Http2Server;
  readonly health: HealthStatus;
  /** Aborted when shutdown starts, so long-lived streams can end. */
  readonly shutdownSignal: AbortSignal;
  /** Listens on "host:port" (port 0 picks a free one) and reports SERVING. Resolves to the bound port. */
  listen(listen: string): Promise<number>;
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then closes what is left. */
  close(graceMs?: number): Promise<void>;
}

/**
 * An HTTP/2 cleartext server speaking gRPC, gRPC-Web and Connect, with grpc.health.v1.
 * Nothing listens until `listen` is called.
 */
export function createRpcServer(options: RpcServerOptions): RpcServer {
  const health = new HealthStatus(options.serviceNames);
  const shutdown = new AbortController();
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(Health, createHealthService(health));
      options.routes(router);
    },
  });
  const server = http2.createServer({ maxSessionMemory: 64 }, handler);
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", (err) => options.logger.debug({ err }, "http2 session error"));
  });
  return {
    http2: server,
    health,
    shutdownSignal: shutdown.signal,
    listen(listen) {
      const { host, port } = splitHostPort(listen);
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          health.setAll(ServingStatus.SERVING);
          const address = server.address();
          resolve(typeof address === "object" && address ? address.port : port);
        });
      });
    },
    async close(graceMs = 10_000) {
      health.setAll(ServingStatus.NOT_SERVING);
      shutdown.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
      }, graceMs);
      timer.unref();
      if (!server.listening) return;
      await closed;
      clearTimeout(timer);
    },
  };
}

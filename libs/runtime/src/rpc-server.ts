import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { connectNodeAdapter, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { Health } from "@tiermesh/proto";
import { splitHostPort } from "@tiermesh/config";
import type { Registry } from "prom-client";
import { createGrpcJsConnections, type GrpcJsConnections, type RegisteredService } from "./grpc-js-server.js";
import { createHealthService, HealthStatus, ServingStatus } from "./health-service.js";
import { Http1Connections } from "./http1-connections.js";
import type { Logger } from "./logger.js";
import { registerReflection } from "./reflection-service.js";

export interface RpcServerOptions {
  /** Registers the service's own routes; `shutdownSignal` aborts when shutdown starts. */
  routes: (router: ConnectRouter, shutdownSignal: AbortSignal) => void;
  /** Fully-qualified names of the services registered, for health checking. */
  serviceNames: readonly string[];
  logger: Logger;
  /** Plain HTTP requests that match no RPC route (e.g. an OpenAI-compatible edge). */
  fallback?: ConnectNodeAdapterOptions["fallback"];
  /** Served as Prometheus text on `GET /metrics`. */
  metrics?: Registry;
  /**
   * Whether the service can serve once listening; when false, `listen` reports NOT_SERVING
   * and the service sets SERVING itself when it is ready.
   */
  ready?: () => boolean;
  /** Server interceptors around every RPC (the service's tracing: serverTracing). */
  interceptors?: Interceptor[];
  /**
   * What serves HTTP/2 connections. "connect" (the default): connect-node, speaking gRPC,
   * gRPC-Web and Connect. "grpc-js": @grpc/grpc-js, speaking gRPC only, for a service whose
   * HTTP/2 callers are all in the mesh (the tier executor): about 0.4 ms less CPU per call.
   * HTTP/1.1 (Connect, gRPC-Web, /metrics) is served by connect-node either way.
   */
  http2?: "connect" | "grpc-js";
}

export interface RpcServer {
  readonly http2: http2.Http2Server;
  readonly http1: http.Server;
  readonly health: HealthStatus;
  /** Aborted when shutdown starts, so long-lived streams can end. */
  readonly shutdownSignal: AbortSignal;
  /** Listens on "host:port" (port 0 picks a free one) and reports SERVING. Resolves to the bound port. */
  listen(listen: string): Promise<number>;
  /** Stops accepting, lets in-flight calls finish for up to `graceMs`, then closes what is left. */
  close(graceMs?: number): Promise<void>;
}

/** The first bytes of every HTTP/2 prior-knowledge connection. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0");

/**
 * A cleartext server speaking gRPC, gRPC-Web and Connect, with grpc.health.v1 and gRPC server
 * reflection, on one port:
 * HTTP/2 (prior knowledge) for gRPC and mesh traffic, HTTP/1.1 for curl, browsers and
 * gRPC-Web/Connect clients that cannot do h2c. Nothing listens until `listen` is called.
 */
export function createRpcServer(options: RpcServerOptions): RpcServer {
  const health = new HealthStatus(options.serviceNames);
  const shutdown = new AbortController();
  const registered: RegisteredService[] = [];
  const handler = connectNodeAdapter({
    interceptors: options.interceptors ?? [],
    routes(connectRouter) {
      const router = recording(connectRouter, registered);
      router.service(Health, createHealthService(health));
      options.routes(router, shutdown.signal);
      registerReflection(router);
    },
    fallback(req, res) {
      if (options.metrics && req.method === "GET" && req.url === "/metrics") {
        const registry = options.metrics;
        registry.metrics().then(
          (text) => {
            res.writeHead(200, { "content-type": registry.contentType });
            res.end(text);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
        return;
      }
      if (options.fallback) return options.fallback(req, res);
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    },
  });
  const h2 = http2.createServer({ maxSessionMemory: 64 }, handler);
  // The adapter registered its routes above, so the services are known by now.
  const grpcJs: GrpcJsConnections | undefined =
    options.http2 === "grpc-js" ? createGrpcJsConnections(registered, options.interceptors) : undefined;
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, handler);
  const h1Connections = new Http1Connections(h1);
  /**
   * Connections that have sent nothing yet, so neither server holds them. Browsers open spare
   * ones ahead of need; left alone, one would hold `close` open for good.
   */
  const unclaimed = new Set<net.Socket>();
  // One port for both: look at the first bytes of each connection and hand it on.
  const server = net.createServer({ noDelay: true }, (socket) => {
    unclaimed.add(socket);
    socket.once("close", () => unclaimed.delete(socket));
    socket.once("data", (first: Buffer) => {
      unclaimed.delete(socket);
      socket.pause();
      socket.unshift(first);
      const isH2 = first.subarray(0, H2_PREFACE.length).equals(H2_PREFACE.subarray(0, Math.min(first.length, H2_PREFACE.length)));
      if (!isH2) h1.emit("connection", socket);
      else if (grpcJs) grpcJs.inject(socket);
      else h2.emit("connection", socket);
      process.nextTick(() => socket.resume());
    });
    socket.on("error", () => socket.destroy());
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
    session.on("error", (err) => options.logger.debug({ err }, "http2 session error"));
  });
  return {
    http2: h2,
    http1: h1,
    health,
    shutdownSignal: shutdown.signal,
    listen(listen) {
      const { host, port } = splitHostPort(listen);
      return new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          health.setAll(options.ready?.() === false ? ServingStatus.NOT_SERVING : ServingStatus.SERVING);
          const address = server.address();
          resolve(typeof address === "object" && address ? address.port : port);
        });
      });
    },
    async close(graceMs = 10_000) {
      health.setAll(ServingStatus.NOT_SERVING);
      shutdown.abort();
      if (!server.listening) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      grpcJs?.drain(graceMs);
      for (const socket of unclaimed) socket.destroy();
      // HTTP/1.1 keep-alive connections close as soon as their in-flight request is done.
      h1Connections.drain();
      const timer = setTimeout(() => {
        for (const session of sessions) session.destroy();
        h1Connections.destroyAll();
      }, graceMs);
      timer.unref();
      await closed;
      clearTimeout(timer);
      grpcJs?.destroy();
    },
  };
}

/** `router` that also keeps each service registered on it, with its implementation. */
function recording(router: ConnectRouter, into: RegisteredService[]): ConnectRouter {
  const proxy: ConnectRouter = Object.create(router);
  proxy.service = (service: DescService, impl: Partial<ServiceImpl<DescService>>, options?: unknown) => {
    into.push({ service, impl: impl as ServiceImpl<DescService> });
    router.service(service, impl, options as never);
    return proxy;
  };
  return proxy;
}

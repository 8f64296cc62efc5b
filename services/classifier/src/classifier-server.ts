import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import { ClassifierService } from "@tiermesh/proto";
import { createRpcServer, serverTracing, type Logger, type RpcServer } from "@tiermesh/runtime";
import { tracerFor } from "@tiermesh/telemetry";
import { createClassifierMetrics, type ClassifierMetrics } from "./classifier-metrics.js";
import { createClassifierService } from "./classifier-service.js";
import { PublishedPolicy } from "./published-policy.js";

export interface ClassifierServer {
  readonly rpc: RpcServer;
  readonly policy: PublishedPolicy;
  readonly metrics: ClassifierMetrics;
  /** The service implementation, for in-process callers (one-process mode). */
  readonly service: ServiceImpl<typeof ClassifierService>;
  /** Its server interceptors (tracing), for in-process callers to run as its server does. */
  readonly interceptors: Interceptor[];
  /** Replaces the running policy with one compiled from `config` and pushes it to watching routers. */
  reload(config: Config): void;
}

/** Builds the classifier without listening. */
export function createClassifierServer(config: Config, logger: Logger): ClassifierServer {
  const policy = new PublishedPolicy(config);
  const shutdown = new AbortController();
  const metrics = createClassifierMetrics(policy);
  const service = createClassifierService({ policy, shutdownSignal: shutdown.signal, onClassified: metrics.classified });
  const interceptors = serverTracing(tracerFor("classifier"));
  const rpc = createRpcServer({
    logger,
    serviceNames: [ClassifierService.typeName],
    interceptors,
    metrics: metrics.registry,
    routes: (router, shutdownSignal) => {
      shutdownSignal.addEventListener("abort", () => shutdown.abort(), { once: true });
      router.service(ClassifierService, service);
    },
  });
  return {
    rpc,
    policy,
    metrics,
    service,
    interceptors,
    reload(next) {
      if (policy.update(next)) {
        metrics.published();
        logger.info({ version: policy.current.encoding.version, watchers: policy.watcherCount }, "policy published");
      }
    },
  };
}

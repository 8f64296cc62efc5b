import type { Transport } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import { createClassifierServer } from "@tiermesh/classifier";
import { createHealthMonitorServer } from "@tiermesh/health-monitor";
import { ClassifierService, TierExecutorService } from "@tiermesh/proto";
import { createRouterServer } from "@tiermesh/router";
import { ConfigWatcher, createInProcessTransport, createLogger, type RunningService } from "@tiermesh/runtime";
import { createTierExecutorServer, type TierExecutorServer } from "@tiermesh/tier-executor";

/**
 * The classifier, every tier's executor, the health monitor and the router in this one
 * process, each the same service code as when deployed apart. Calls between them go
 * through in-process transports instead of HTTP/2 (no sockets, no second process on the
 * request's path); tier status still goes over NATS, and every service still listens on its
 * configured port for health checks, metrics and other clients.
 * (`createInProcessTransport`: the client interface as deployed, the implementation called
 * directly, with its HandlerContext; no serialization and no handler pipeline per call.)
 */
export async function startOneProcessMesh(config: Config, configFile: string): Promise<RunningService> {
  const level = config.log.level;
  const executors = new Map<string, TierExecutorServer>();
  for (const tier of Object.keys(config.tiers)) {
    executors.set(tier, createTierExecutorServer(config, tier, createLogger(`executor-${tier}`, level)));
  }
  // Each executor as its own server runs it, its tracing included; callers add their own.
  const executorTransports = new Map<string, Transport>(
    [...executors].map(([tier, server]) => [
      tier,
      createInProcessTransport(TierExecutorService, server.service, { interceptors: server.interceptors }),
    ]),
  );
  const executorTransport = (tier: string) => executorTransports.get(tier)!;
  const classifier = createClassifierServer(config, createLogger("classifier", level));
  const monitor = createHealthMonitorServer(config, createLogger("health-monitor", level), { executorTransport });
  const router = createRouterServer(config, createLogger("router", level), {
    classifierTransport: createInProcessTransport(ClassifierService, classifier.service, { interceptors: classifier.interceptors }),
    executorTransport,
  });

  for (const [tier, server] of executors) await server.rpc.listen(config.tiers[tier]!.executor.listen);
  await classifier.rpc.listen(config.classifier.listen);
  await monitor.rpc.listen(config.health_monitor.listen);
  await monitor.start();
  await router.rpc.listen(config.router.listen);

  const logger = createLogger("tiermesh", level);
  const watcher = new ConfigWatcher({
    file: configFile,
    onConfig(next) {
      classifier.reload(next);
      router.reload(next);
      logger.info("config reloaded");
    },
    onRefused: (err) => logger.error({ err: err.message }, "new config refused; keeping the running one"),
  });
  watcher.start();
  logger.info({ tiers: [...executors.keys()] }, "one-process mesh serving");
  return {
    async close() {
      watcher.stop();
      await router.close();
      await monitor.close();
      await classifier.rpc.close();
      await Promise.all([...executors.values()].map((e) => e.close()));
    },
  };
}

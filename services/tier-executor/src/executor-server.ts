import { hostname } from "node:os";
import type { Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import { TierExecutorService } from "@tiermesh/proto";
import { afterReply, afterReplyIdle, createRpcServer, serverTracing, StartupError, type Logger, type RpcServer } from "@tiermesh/runtime";
import { Tiermesh, tracerFor } from "@tiermesh/telemetry";
import { NatsLink, OutcomeReporter, subjects, type OutcomeInit } from "@tiermesh/tier-status";
import { createExecutorMetrics } from "./executor-metrics.js";
import { genAiClientMetrics } from "./genai-metrics.js";
import { createTierExecutorService } from "./executor-service.js";
import { createProviders } from "./providers/registry.js";
import { TierRunner } from "./tier-runner.js";
import { TierJobs } from "./tier-jobs.js";

export interface TierExecutorServer {
  readonly rpc: RpcServer;
  readonly tier: string;
  /** The service implementation, for in-process callers (one-process mode). */
  readonly service: ServiceImpl<typeof TierExecutorService>;
  /** Its server interceptors (tracing), for in-process callers to run as its server does. */
  readonly interceptors: Interceptor[];
  /** Stops serving, flushes outcome reports and closes provider connections. */
  close(): Promise<void>;
}

export interface TierExecutorServerOptions {
  /** Outcome sink; defaults to batches published on NATS. */
  report?: (outcome: OutcomeInit) => void;
}

/** Builds the executor of one tier without listening. */
export function createTierExecutorServer(
  config: Config,
  tierName: string,
  logger: Logger,
  options: TierExecutorServerOptions = {},
): TierExecutorServer {
  const tier = config.tiers[tierName];
  if (tier === undefined) {
    throw new StartupError(`--tier: unknown tier "${tierName}" (tiers: ${Object.keys(config.tiers).join(", ")})`);
  }
  const providers = createProviders(config, [tierName]);
  const executorId = `${tierName}@${hostname()}:${process.pid}`;
  const tracer = tracerFor("tier-executor", { [Tiermesh.tier]: tierName });
  const interceptors = serverTracing(tracer);
  let link: NatsLink | undefined;
  let reporter: OutcomeReporter | undefined;
  let report = options.report;
  let runner: TierRunner | undefined;
  const metrics = createExecutorMetrics(tierName, () => runner!);
  const observe = genAiClientMetrics(metrics);
  if (report === undefined) {
    link = new NatsLink({ url: config.nats.url, name: `tiermesh-executor-${executorId}`, logger });
    const outcomes = new OutcomeReporter({
      link,
      subject: subjects(config.nats.subject_prefix).outcomes(tierName),
      executorId,
      tier: tierName,
      load: () => ({ inFlight: runner?.load.inFlight ?? 0, queued: runner?.load.queued ?? 0, capacity: tier.bulkhead.max_concurrency }),
      tracer,
    });
    reporter = outcomes;
    report = (o) => outcomes.report(o);
  }
  const sink = report;
  runner = new TierRunner({
    tierName,
    tier,
    providers,
    // Metrics and the outcome report leave the answer's path.
    report: (o) =>
      afterReply(() => {
        observe(o);
        sink(o);
      }),
    logger: logger.child({ tier: tierName }),
    tracer,
  });
  const defaultTimeoutMs = tier.timeouts.attempt_ms * tier.retries.max_attempts;
  const service = createTierExecutorService({ tierName, runner, defaultTimeoutMs, streamFlushMs: tier.stream.flush_ms });
  // Asynchronous jobs: a worker pulling the tier's queue once NATS answers.
  let jobs: TierJobs | undefined;
  if (tier.async.enabled) {
    link ??= new NatsLink({ url: config.nats.url, name: `tiermesh-executor-${executorId}`, logger });
    jobs = new TierJobs({
      config,
      tierName,
      link,
      runner,
      metrics,
      runTimeoutMs: defaultTimeoutMs,
      logger: logger.child({ tier: tierName, component: "jobs" }),
    });
  }
  const rpc = createRpcServer({
    logger,
    serviceNames: [TierExecutorService.typeName],
    routes: (router) => router.service(TierExecutorService, service),
    interceptors,
    metrics,
    // Its HTTP/2 callers are routers and the monitor's probes, which speak gRPC: grpc-js serves
    // them for about 0.4 ms less CPU per call than connect-node. HTTP/1.1 still speaks Connect.
    http2: "grpc-js",
  });
  return {
    rpc,
    tier: tierName,
    service,
    interceptors,
    async close() {
      await jobs?.close();
      await rpc.close();
      await afterReplyIdle();
      reporter?.close();
      await link?.close();
      await Promise.all([...providers.values()].map((p) => p.close()));
    },
  };
}

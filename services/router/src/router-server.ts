import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { endpointUrl, TierLadder, type Config } from "@tiermesh/config";
import { ClassifierService, JobService, RouterService, TierExecutorService, TierState } from "@tiermesh/proto";
import {
  clientTracing,
  createMeshTransport,
  createRpcServer,
  serverTracing,
  ServingStatus,
  withInterceptors,
  type Logger,
  type RpcServer,
} from "@tiermesh/runtime";
import { tracerFor, Tiermesh } from "@tiermesh/telemetry";
import { NatsLink, TierStatusFeed } from "@tiermesh/tier-status";
import { ApiKeyAuth } from "./api-key-auth.js";
import { ContextFit } from "./context-fit.js";
import { BatchDesk } from "./batch-desk.js";
import { JobIntake } from "./job-intake.js";
import { createRouterJobMetrics } from "./job-metrics.js";
import { RouterJobs } from "./router-jobs.js";
import { createJobService } from "./job-service.js";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { PolicySubscription } from "./policy-subscription.js";
import { RoutingPolicy } from "./routing-policy.js";
import { SpendLedger } from "./spend-ledger.js";
import { tierView } from "./tier-view.js";
import { createOpenAIEdge } from "./openai-edge.js";
import { RouterCore } from "./router-core.js";
import { createRouterMetrics } from "./router-metrics.js";
import { createRouterService } from "./router-service.js";
import { TierStatusTable } from "./tier-status-table.js";

export interface RouterServer {
  readonly rpc: RpcServer;
  readonly status: TierStatusTable;
  readonly policy: RoutingPolicy;
  /** The classifier's policy as this router holds it. */
  readonly classifierPolicy: PolicySubscription;
  /** True while the NATS connection is up. */
  readonly natsConnected: boolean;
  /** Applies a new config's tenants and keys. Topology changes (tiers, addresses) need a restart. */
  reload(config: Config): void;
  close(): Promise<void>;
}

/**
 * Builds the router without listening: the Router RPC and the OpenAI-compatible HTTP edge
 * on one port; tier status followed on NATS in the background.
 */
export interface RouterServerOptions {
  /** How the router reaches the classifier; defaults to the mesh transport to its address. */
  classifierTransport?: Transport;
  /** How the router reaches each tier's executor; defaults to the mesh transport to its address. */
  executorTransport?: (tier: string) => Transport;
}

export function createRouterServer(config: Config, logger: Logger, options: RouterServerOptions = {}): RouterServer {
  const ladder = new TierLadder(config.tiers);
  const status = new TierStatusTable(config.router.status_ttl_ms);
  const tracer = tracerFor("router");
  // Every call to another service is traced as a client span of the call's parent.
  const traced = (transport: Transport, url: string, attributes: Record<string, string> = {}) =>
    withInterceptors(transport, clientTracing(tracer, { peer: new URL(url), attributes }));
  const executors = new Map<string, Client<typeof TierExecutorService>>();
  for (const [name, tier] of Object.entries(config.tiers)) {
    const url = endpointUrl(tier.executor);
    const transport = options.executorTransport?.(name) ?? createMeshTransport(url);
    executors.set(name, createClient(TierExecutorService, traced(transport, url, { [Tiermesh.tier]: name })));
  }
  const feed = new TierStatusFeed({
    prefix: config.nats.subject_prefix,
    bucket: config.nats.kv_bucket,
    tiers: ladder.names,
    onStatus(event, source) {
      const before = status.get(event.tier)?.state;
      if (status.apply(event) && before !== event.state) {
        logger.info({ tier: event.tier, state: TierState[event.state], reason: event.reason, sequence: event.sequence.toString(), source }, "tier status changed");
      }
    },
    onError: (err) => logger.warn({ err }, "tier status feed error"),
    tracer,
  });
  // Jobs need the stream and buckets only when some tier takes them.
  const asyncJobs = new RouterJobs(config, logger);
  const link = new NatsLink({
    url: config.nats.url,
    name: `tiermesh-router-${process.pid}`,
    logger,
    onConnected: (nc) => {
      feed.attach(nc);
      asyncJobs.attach(nc);
    },
  });
  let auth = new ApiKeyAuth(config);
  let current = config;
  const spend = new SpendLedger(() => current);
  const passive = new PassiveTierBreaker(config.router.passive_breaker.failures, config.router.passive_breaker.cool_ms);
  const view = (tier: string) => tierView(tier, status, passive, { connected: link.connected, since: link.connectedSince });
  const policy = new RoutingPolicy(config, ladder, view);
  const policySource = new PolicySubscription({
    client: createClient(ClassifierService, traced(options.classifierTransport ?? createMeshTransport(endpointUrl(config.classifier)), endpointUrl(config.classifier))),
    logger,
    watcher: `router-${process.pid}`,
    // Ready only once there is a policy to route with; a stale one still serves.
    onChange: () => rpc.health.setAll(policySource.classify ? ServingStatus.SERVING : ServingStatus.NOT_SERVING),
  });
  const metrics = createRouterMetrics({ tiers: ladder.names, status, policy, view, natsConnected: () => link.connected, classifierPolicy: policySource, spend });
  const jobMetrics = createRouterJobMetrics(metrics.registry, asyncJobs.sampler);
  const core = new RouterCore({
    onFinished: metrics.request,
    onAnswered: metrics.answered,
    auth: () => auth,
    classify: () => policySource.classify,
    executors,
    tiers: config.tiers,
    policy,
    context: new ContextFit(config.tiers, ladder, (tier) => view(tier).state),
    spend,
    passive,
    defaultTimeoutMs: config.router.default_timeout_ms,
    maxAttempts: config.router.max_attempts,
    tracer,
  });
  const intake = new JobIntake({ tiers: config.tiers, place: (authorization, input) => core.place(authorization, input), onSubmitted: jobMetrics.submitted });
  const batchDesk = new BatchDesk({
    intake,
    tenantOf: (a) => core.tenantOf(a),
    jobs: () => asyncJobs.jobs,
    files: () => asyncJobs.files,
    batches: () => asyncJobs.batches,
    onError: (err) => logger.error({ err }, "batch validation failed"),
  });
  const rpc = createRpcServer({
    logger,
    ready: () => policySource.classify !== undefined,
    serviceNames: [RouterService.typeName, JobService.typeName],
    routes: (router) => {
      router.service(RouterService, createRouterService(core));
      router.service(JobService, createJobService({ intake, tenantOf: (a) => core.tenantOf(a), backend: () => asyncJobs.jobs }));
    },
    interceptors: serverTracing(tracer),
    fallback: createOpenAIEdge(core, (err) => logger.error({ err }, "edge request failed"), tracer, batchDesk),
    metrics: metrics.registry,
  });
  policySource.start();
  return {
    rpc,
    status,
    policy,
    classifierPolicy: policySource,
    get natsConnected() {
      return link.connected;
    },
    reload(next) {
      auth = new ApiKeyAuth(next);
      current = next;
    },
    async close() {
      asyncJobs.close();
      await policySource.close();
      await rpc.close();
      feed.close();
      await link.close();
    },
  };
}

import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { endpointUrl, hasRateLimits, rateLimitsOf, TierLadder, type Config } from "@tiermesh/config";
import { ClassifierService, JobService, RouterService, TierExecutorService, TierState } from "@tiermesh/proto";
import {
  afterReplyIdle,
  clientTracing,
  createGrpcJsTransport,
  createMeshTransport,
  createRpcServer,
  serverTracing,
  ServingStatus,
  withInterceptors,
  type ClosableTransport,
  type Logger,
  type RpcServer,
} from "@tiermesh/runtime";
import { tracerFor, Tiermesh } from "@tiermesh/telemetry";
import { NatsLink, subjects, TierStatusFeed } from "@tiermesh/tier-status";
import {
  aggregateKeyOf,
  BudgetHoldBoard,
  ensureLedgerStream,
  LedgerWriter,
  openAggregates,
  openHolds,
  OwnSpend,
  SpendView,
} from "@tiermesh/ledger";
import { BudgetGuard } from "./budget-guard.js";
import { ApiKeyAuth } from "./api-key-auth.js";
import { ContextFit } from "./context-fit.js";
import { BatchDesk } from "./batch-desk.js";
import { JobIntake } from "./job-intake.js";
import { OrphanBatchSweep } from "./orphan-batch-sweep.js";
import { createRouterJobMetrics } from "./job-metrics.js";
import { RouterJobs } from "./router-jobs.js";
import { createJobService } from "./job-service.js";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { PolicySubscription } from "./policy-subscription.js";
import { RateLimiter } from "./rate-limiter.js";
import { RoutingPolicy } from "./routing-policy.js";
import { tierView } from "./tier-view.js";
import { createOpenAIEdge } from "./openai-edge.js";
import { RouterCore } from "./router-core.js";
import { createRouterMetrics } from "./router-metrics.js";
import { createRouterService } from "./router-service.js";
import { TierStatusTable } from "./tier-status-table.js";
import { UsageExchange } from "./usage-exchange.js";

export interface RouterServer {
  readonly rpc: RpcServer;
  readonly status: TierStatusTable;
  readonly policy: RoutingPolicy;
  /** The classifier's policy as this router holds it. */
  readonly classifierPolicy: PolicySubscription;
  /** True while the NATS connection is up. */
  readonly natsConnected: boolean;
  /** Tenants' rate limits, shared with the other router replicas. */
  readonly limiter: RateLimiter;
  readonly usage: UsageExchange;
  /** Appends usage records to the ledger. */
  readonly ledger: LedgerWriter;
  /** Budgets as this router enforces them. */
  readonly budget: BudgetGuard;
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
  const channels: ClosableTransport[] = [];
  for (const [name, tier] of Object.entries(config.tiers)) {
    const url = endpointUrl(tier.executor);
    let transport = options.executorTransport?.(name);
    if (transport === undefined) {
      // Executors serve HTTP/2 with grpc-js: gRPC on both ends is the cheapest hop (rpc-server.ts).
      const channel = createGrpcJsTransport(url);
      channels.push(channel);
      transport = channel;
    }
    executors.set(name, createClient(TierExecutorService, traced(transport, url, { [Tiermesh.tier]: name })));
  }
  const feed = new TierStatusFeed({
    prefix: config.nats.subject_prefix,
    bucket: config.nats.kv_bucket,
    tiers: ladder.names,
    onStatus(event, source) {
      const before = status.get(event.tier)?.state;
      if (status.apply(event) && before !== event.state) {
        logger.info(
          { tier: event.tier, state: TierState[event.state], reason: event.reason, sequence: event.sequence.toString(), source },
          "tier status changed",
        );
      }
    },
    onError: (err) => logger.warn({ err }, "tier status feed error"),
    tracer,
  });
  /** Some tenant has a rate limit: otherwise replicas have nothing to exchange but heartbeats. */
  let limited = hasRateLimits(config);
  const usage = new UsageExchange({
    subject: subjects(config.nats.subject_prefix).limitsUsage,
    connection: () => link.connection,
    connected: () => link.connected,
    syncMs: config.router.rate_limit_sync_ms,
    sharing: () => limited,
    onError: (err) => logger.warn({ err }, "rate-limit usage exchange error"),
  });
  const routerId = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  const spendView = new SpendView();
  const own = new OwnSpend();
  let holds: BudgetHoldBoard | undefined;
  // Jobs need the stream and buckets only when some tier takes them.
  const asyncJobs = new RouterJobs(config, logger);
  const link = new NatsLink({
    url: config.nats.url,
    name: `tiermesh-router-${process.pid}`,
    logger,
    onConnected(nc) {
      feed.attach(nc);
      usage.attach(nc);
      asyncJobs.attach(nc);
      void (async () => {
        await spendView.watch(await openAggregates(nc, config.ledger.aggregates_bucket), (err) =>
          logger.warn({ err }, "usage aggregates watch ended"),
        );
        holds = new BudgetHoldBoard(await openHolds(nc, config.ledger.holds_bucket), routerId, config.ledger.hold_ttl_ms);
      })().catch((err: unknown) =>
        logger.warn({ err }, "usage aggregates or budget holds unavailable; budgets use this router's view until NATS answers"),
      );
    },
  });
  let auth = new ApiKeyAuth(config);
  let current = config;
  const limiter = new RateLimiter({
    limits: (tenant) => rateLimitsOf(current, tenant),
    mode: usage.mode,
    syncMs: config.router.rate_limit_sync_ms,
    onClaim: usage.publishSoon,
  });
  usage.bind(limiter);
  let lastLedgerError = 0;
  const ledger = new LedgerWriter({
    connection: () => (link.connected ? link.connection : undefined),
    subjectPrefix: config.nats.subject_prefix,
    prepare: (nc) => ensureLedgerStream(nc, config.nats.subject_prefix, config.ledger),
    maxBuffered: config.ledger.max_buffered,
    flushMs: config.ledger.flush_ms,
    onStored: (requestId, sequence) => own.stored(requestId, sequence),
    onError(err) {
      // Once per 10 s at most: while NATS is away every retry fails.
      if (Date.now() - lastLedgerError < 10_000) return;
      lastLedgerError = Date.now();
      logger.warn({ err, buffered: ledger.bufferedCount }, "usage ledger append failed; records stay buffered and are retried");
    },
  });
  const budget = new BudgetGuard({
    config: () => current,
    view: spendView,
    own,
    holds: () => (link.connected ? holds : undefined),
    logger,
    holdTtlMs: config.ledger.hold_ttl_ms,
  });
  budget.start();
  const passive = new PassiveTierBreaker(config.router.passive_breaker.failures, config.router.passive_breaker.cool_ms);
  const view = (tier: string) => tierView(tier, status, passive, { connected: link.connected, since: link.connectedSince });
  const policy = new RoutingPolicy(config, ladder, view);
  const policySource = new PolicySubscription({
    client: createClient(
      ClassifierService,
      traced(options.classifierTransport ?? createMeshTransport(endpointUrl(config.classifier)), endpointUrl(config.classifier)),
    ),
    logger,
    watcher: `router-${process.pid}`,
    // Ready only once there is a policy to route with; a stale one still serves.
    onChange: () => rpc.health.setAll(policySource.classify ? ServingStatus.SERVING : ServingStatus.NOT_SERVING),
  });
  const metrics = createRouterMetrics({
    tiers: ladder.names,
    status,
    policy,
    view,
    natsConnected: () => link.connected,
    classifierPolicy: policySource,
    budget,
    ledger,
    config: () => current,
    rateMode: usage.mode,
  });
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
    budget,
    usage(record) {
      if (!ledger.append(record)) metrics.ledgerDropped();
      budget.finish(record.requestId, record.tenant, aggregateKeyOf(record), record.costUsd);
    },
    passive,
    defaultTimeoutMs: config.router.default_timeout_ms,
    maxAttempts: config.router.max_attempts,
    tracer,
    limiter,
    onRateDecision: metrics.rateDecision,
  });
  const intake = new JobIntake({
    tiers: config.tiers,
    tenantOf: (authorization) => core.tenantOf(authorization),
    placeFor: (tenant, input) => core.placeFor(tenant, input),
    onSubmitted: jobMetrics.submitted,
  });
  const batchDesk = new BatchDesk({
    intake,
    tenantOf: (a) => core.tenantOf(a),
    jobs: () => asyncJobs.jobs,
    files: () => asyncJobs.files,
    batches: () => asyncJobs.batches,
    orphanMs: config.router.batch_resume.orphan_ms,
    onError: (err) => logger.error({ err }, "batch validation failed"),
    onResumed(batch, by) {
      // Not routine: a router stopped while it was queuing a batch's lines.
      logger.warn(
        { batch: batch.id, tenant: batch.tenant, by, created_at: batch.created_at, validated_at: batch.validated_at },
        "resuming a batch left validating by a router that stopped",
      );
      jobMetrics.batchResumed(by);
    },
  });
  const orphanSweep = new OrphanBatchSweep({
    resumeOrphans: () => batchDesk.resumeOrphans(),
    intervalMs: config.router.batch_resume.sweep_ms,
    logger,
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
  orphanSweep.start();
  return {
    rpc,
    status,
    policy,
    classifierPolicy: policySource,
    get natsConnected() {
      return link.connected;
    },
    limiter,
    usage,
    ledger,
    budget,
    reload(next) {
      auth = new ApiKeyAuth(next);
      current = next;
      limited = hasRateLimits(next);
    },
    async close() {
      await orphanSweep.stop();
      asyncJobs.close();
      await policySource.close();
      await rpc.close();
      budget.stop();
      // The last answers' records are appended after their replies.
      await afterReplyIdle();
      // Records not yet stored get a last chance while the connection is still open.
      if (!(await ledger.drain(3_000))) logger.warn({ buffered: ledger.bufferedCount }, "usage records not stored before shutdown");
      ledger.close();
      spendView.stop();
      feed.close();
      usage.close();
      for (const channel of channels) channel.close();
      await link.close();
    },
  };
}

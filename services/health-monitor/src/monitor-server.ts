import { hostname } from "node:os";
import type { KV } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Transport } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import { HealthMonitorService, ReportService, TierState, type TierStatusEvent } from "@tiermesh/proto";
import { judgeByConfig, LedgerAggregator, openAggregates } from "@tiermesh/ledger";
import { createMetricsRegistry, createRpcServer, serverTracing, type Logger, type RpcServer } from "@tiermesh/runtime";
import { tracerFor, type SpanContext } from "@tiermesh/telemetry";
import { asyncTiers, BacklogSampler, BatchFinaliser, openBatchStores, openJobBackend } from "@tiermesh/jobs";
import { decodeOutcomes, NatsLink, openStatusBucket, readStatuses, subjects } from "@tiermesh/tier-status";
import { OutcomeTracing } from "./outcome-tracing.js";
import { AlertWebhook } from "./alert-webhook.js";
import { CanaryProber } from "./canary-prober.js";
import { TierConsole } from "./console/tier-console.js";
import { LeaderLease } from "./leader-lease.js";
import { registerMonitorMetrics } from "./monitor-metrics.js";
import { registerSloMetrics } from "./slo-metrics.js";
import { registerProbeMetrics } from "./probe-metrics.js";
import { createHealthMonitorService } from "./monitor-service.js";
import { createReportService } from "./report-service.js";
import { StatusBoard } from "./status-board.js";
import { StatusPublisher } from "./status-publisher.js";
import { TrafficCoverage } from "./traffic-coverage.js";

export interface HealthMonitorServer {
  readonly rpc: RpcServer;
  readonly monitorId: string;
  /** The live tier console served at /console/ on the monitor's port. */
  readonly console: TierConsole;
  /** True while this replica holds the lease and publishes. */
  readonly leading: boolean;
  /** Connects to NATS (waiting up to `natsWaitMs` for it), seeds state from the bucket and starts watching. */
  start(natsWaitMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * Builds the health monitor without listening or connecting. Every replica watches all
 * outcomes and keeps its own view; only the replica holding the lease publishes, so
 * replicas never publish conflicting states.
 */
export interface HealthMonitorServerOptions {
  /** How probes reach each tier's executor; defaults to the mesh transport to its address. */
  executorTransport?: (tier: string) => Transport;
}

export function createHealthMonitorServer(config: Config, logger: Logger, options: HealthMonitorServerOptions = {}): HealthMonitorServer {
  const monitorId = `${hostname()}:${process.pid}`;
  const subj = subjects(config.nats.subject_prefix);
  const tierNames = Object.keys(config.tiers);
  const listeners = new Set<(event: TierStatusEvent) => void>();
  let board = new StatusBoard(config, { monitorId, firstSequence: BigInt(Date.now()) * 1000n });
  const coverage = new TrafficCoverage();
  let bucket: KV | undefined;
  let aggregates: KV | undefined;
  let subscription: Subscription | undefined;
  const timers: NodeJS.Timeout[] = [];
  const tracer = tracerFor("health-monitor");
  const outcomeTracing = tracer && new OutcomeTracing(tracer);
  const hook = config.health_monitor.alert_webhook;
  const webhook = hook ? new AlertWebhook(hook.url, hook.timeout_ms, logger) : undefined;
  // Every replica serves the console: the status it shows is the published one, from NATS.
  const tierConsole = new TierConsole({
    config,
    monitorId,
    slis: (now) => board.slis(now),
    leading: () => lease.isLeader,
    natsConnected: () => link.connected,
    logger,
  });
  listeners.add((event) => tierConsole.localStatus(event));

  const metrics = createMetricsRegistry("health-monitor");
  const sloMetrics = registerSloMetrics(metrics, config);
  const link = new NatsLink({
    url: config.nats.url,
    name: `tiermesh-health-monitor-${monitorId}`,
    logger,
    onConnected(nc) {
      tierConsole.attach(nc);
      if (!aggregates) {
        openAggregates(nc, config.ledger.aggregates_bucket).then(
          (kv) => (aggregates = kv),
          (err: unknown) => logger.warn({ err }, "usage aggregates bucket unavailable"),
        );
      }
      subscription ??= nc.subscribe(subj.allOutcomes, {
        callback(err, msg) {
          if (err) return logger.warn({ err }, "outcome subscription error");
          try {
            const now = Date.now();
            const batch = decodeOutcomes(msg.data);
            const traced = outcomeTracing?.receive(msg.subject, msg.headers, batch);
            for (const [i, o] of batch.outcomes.entries()) {
              const span = traced?.process(i);
              board.record(o, now);
              sloMetrics.record(o);
              coverage.record(o, now);
              tierConsole.outcome(o, now);
              span?.end();
            }
            if (batch.load && batch.tier) board.recordLoad(batch.tier, batch.executorId, batch.load, now);
            evaluate(traced?.causes ?? [], batch.tier);
          } catch (cause) {
            logger.warn({ err: cause, subject: msg.subject }, "unreadable outcome batch");
          }
        },
      });
    },
  });
  const lease = new LeaderLease({
    bucket: `${config.nats.kv_bucket}_leader`,
    id: monitorId,
    leaseMs: config.health_monitor.lease_ms,
    logger,
    onChange(leader) {
      // The leader alone folds the usage ledger into the aggregates (see LedgerAggregator).
      // It also ends Batch API batches whose requests all ended (see BatchFinaliser).
      if (!leader) {
        void aggregator.stop();
        void finaliser.stop();
        return;
      }
      if (link.connection) {
        aggregator.start(link.connection);
        startFinaliser(link.connection);
      }
      // Taking over: continue the sequence from what was last published, then say where every tier stands.
      void (async () => {
        if (bucket) {
          const last = await readStatuses(bucket, tierNames).catch(() => []);
          // biome-ignore lint/complexity/useMathMinMax: sequences are bigints
          board.continueFrom(last.reduce((max, e) => (e.sequence > max ? e.sequence : max), 0n));
        }
        for (const event of board.snapshot(Date.now())) emit(event, false);
      })();
    },
  });
  const aggregator = new LedgerAggregator({
    subjectPrefix: config.nats.subject_prefix,
    ledger: config.ledger,
    judge: () => judgeByConfig(config),
    logger,
    mayWrite: () => lease.isLeader,
  });
  const finaliser = new BatchFinaliser({
    intervalMs: config.health_monitor.batch_sweep_ms,
    mayWrite: () => lease.isLeader,
    logger,
  });
  const startFinaliser = (nc: NatsConnection) => {
    if (asyncTiers(config).length === 0) return;
    openBatchStores(nc, config).then(
      (stores) => lease.isLeader && finaliser.start(stores),
      (err: unknown) => logger.warn({ err }, "job and batch stores unavailable; batches end only when asked for"),
    );
  };
  // Tiers that take jobs carry their backlog in their status, sampled from the jobs stream.
  const backlog = new BacklogSampler(asyncTiers(config));
  const withJobs = (event: TierStatusEvent): TierStatusEvent => {
    const jobs = backlog.of(event.tier);
    return jobs ? { ...event, jobs } : event;
  };
  if (backlog.tiers.length > 0) {
    void link.ready
      .then(async (nc) => backlog.attach((await openJobBackend(nc, config)).queue))
      .catch((err: unknown) => logger.warn({ err }, "job backlog unavailable; tier status goes without it"));
  }
  const publisher = new StatusPublisher(link, config.nats.subject_prefix, () => bucket, logger, tracer);
  const emit = (raw: TierStatusEvent, change: boolean, causes: readonly SpanContext[] = []) => {
    const event = withJobs(raw);
    for (const listener of listeners) listener(event);
    if (!lease.isLeader) return;
    publisher.publish(event, change, causes);
    if (change) webhook?.send(event);
  };
  /** `causes`: traced outcomes just recorded, which a state change found now is linked to. */
  function evaluate(causes: readonly SpanContext[] = [], causeTier = "") {
    for (const event of board.evaluate(Date.now())) {
      logger.warn(
        {
          tier: event.tier,
          state: TierState[event.state],
          previous: TierState[event.previousState],
          reason: event.reason,
          sequence: event.sequence.toString(),
          leading: lease.isLeader,
        },
        "tier state changed",
      );
      emit(event, true, event.tier === causeTier ? causes : []);
    }
  }
  const prober = new CanaryProber({
    config,
    ...(options.executorTransport ? { transport: options.executorTransport } : {}),
    record(outcome) {
      board.record(outcome, Date.now());
      evaluate();
    },
    recovering: (tier) => board.recovering(tier),
    trafficAt: (tier, deployment) => coverage.lastSeen(tier, deployment),
    metrics: registerProbeMetrics(metrics),
    tracer,
  });
  registerMonitorMetrics(metrics, { leading: () => lease.isLeader, board: () => board });
  const rpc = createRpcServer({
    logger,
    metrics,
    serviceNames: [HealthMonitorService.typeName, ReportService.typeName],
    fallback(req, res) {
      if (tierConsole.handle(req, res)) return;
      res.writeHead(404, { "content-type": "text/plain" });
      res.end("not found");
    },
    interceptors: serverTracing(tracer),
    routes: (router, shutdownSignal) =>
      router.service(ReportService, createReportService({ aggregates: () => aggregates, config: () => config })).service(
        HealthMonitorService,
        createHealthMonitorService({
          snapshot: () => board.snapshot(Date.now()).map(withJobs),
          subscribe(listener) {
            listeners.add(listener);
            return () => listeners.delete(listener);
          },
          shutdownSignal,
        }),
      ),
  });

  return {
    rpc,
    monitorId,
    console: tierConsole,
    get leading() {
      return lease.isLeader;
    },
    async start(natsWaitMs = 5_000) {
      const nc = await Promise.race([link.ready, new Promise<undefined>((r) => setTimeout(() => r(undefined), natsWaitMs).unref())]).catch(
        () => undefined,
      );
      if (nc) {
        try {
          bucket = await openStatusBucket(nc, config.nats.kv_bucket);
          const previous = await readStatuses(bucket, tierNames);
          // biome-ignore lint/complexity/useMathMinMax: sequences are bigints
          const lastSequence = previous.reduce((max, e) => (e.sequence > max ? e.sequence : max), 0n);
          const seed = BigInt(Date.now()) * 1000n;
          board = new StatusBoard(config, { monitorId, firstSequence: lastSequence >= seed ? lastSequence + 1n : seed, previous });
          await lease.start(nc);
        } catch (err) {
          logger.warn({ err }, "status bucket or lease unavailable; starting without previous state");
        }
      } else {
        logger.warn({ url: config.nats.url }, "NATS not reachable yet; watching will start when it is");
        void link.ready
          .then(async (c) => {
            bucket = await openStatusBucket(c, config.nats.kv_bucket);
            await lease.start(c);
          })
          .catch(() => undefined);
      }
      timers.push(setInterval(() => evaluate(), config.health_monitor.evaluate_interval_ms));
      timers.push(
        setInterval(() => {
          for (const event of board.snapshot(Date.now())) emit(event, false);
        }, config.health_monitor.heartbeat_ms),
      );
      prober.start();
      tierConsole.start();
    },
    async close() {
      for (const t of timers) clearInterval(t);
      backlog.close();
      prober.stop();
      tierConsole.close();
      await aggregator.stop();
      await finaliser.stop();
      await lease.stop();
      await rpc.close(2_000);
      subscription?.unsubscribe();
      await link.close();
    },
  };
}

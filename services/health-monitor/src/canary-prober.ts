import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { endpointUrl, type Config } from "@tiermesh/config";
import {
  DEPLOYMENT_COOLING,
  ERROR_REASON_HEADER,
  OutcomeSchema,
  OutcomeStatus,
  retryAfterMsOf,
  TierExecutorService,
  type Outcome,
} from "@tiermesh/proto";
import { clientTracing, createGrpcJsTransport, withInterceptors, type ClosableTransport } from "@tiermesh/runtime";
import { Tiermesh, type Tracer } from "@tiermesh/telemetry";
import type { ProbeMetrics } from "./probe-metrics.js";
import { ProbeSchedule } from "./probe-schedule.js";

/** A recovering tier's probe gives up after this many times its TTFT SLO (at most `probe.timeout_ms`). */
const RECOVERY_TIMEOUT_FACTOR = 2;

export interface CanaryProberOptions {
  config: Config;
  /** Receives one outcome per probe. */
  record: (outcome: Outcome) => void;
  /** True while a tier is down or degraded since leaving down; its deployments are then probed every `down_interval_ms`. */
  recovering?: (tier: string) => boolean;
  /** When real traffic last showed a deployment's health (epoch ms); such a deployment is not probed within the interval. */
  trafficAt?: (tier: string, deployment: string) => number | undefined;
  /** Counts probes, their cost and the probes skipped. */
  metrics?: ProbeMetrics;
  /** How to reach a tier's executor; defaults to its configured address (tests pass an in-memory transport). */
  transport?: (tier: string) => Transport;
  /** Traces every probe (a root span per probe call); undefined while tracing is off. */
  tracer?: Tracer | undefined;
}

interface Target {
  id: string;
  provider: string;
  model: string;
}

/**
 * Sends the smallest canary request (`probe.prompt`, `probe.max_tokens`) through every tier's
 * executor to each deployment of its pool that real traffic does not cover, so an idle tier is
 * still watched and a recovered deployment is noticed even while its breaker keeps traffic
 * away: when neither traffic nor a probe showed its health for `probe.interval_ms`, or
 * `probe.down_interval_ms` while the tier is down or recovering, so a recovery is seen within
 * a few hundred ms. One probe per deployment in flight; a recovering tier's probe gives up
 * after twice its TTFT SLO, so one hung probe cannot hide the recovery for long.
 *
 * Never inside a provider's Retry-After: the executor refuses a probe to a deployment cooling
 * down (no provider call); that refusal is neither a success nor a failure, so no outcome is
 * recorded, and the deployment is not asked again until the wait is over.
 */
export class CanaryProber {
  private readonly clients = new Map<string, Client<typeof TierExecutorService>>();
  private readonly deployments = new Map<string, Target[]>();
  private readonly busy = new Set<string>();
  private readonly schedule: ProbeSchedule;
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();
  /** Channels this prober opened itself (executors speak gRPC on HTTP/2). */
  private readonly channels: ClosableTransport[] = [];

  constructor(private readonly options: CanaryProberOptions) {
    const { probe } = options.config.health_monitor;
    this.schedule = new ProbeSchedule(probe.interval_ms, probe.down_interval_ms);
    for (const [name, tier] of Object.entries(options.config.tiers)) {
      const url = endpointUrl(tier.executor);
      const transport = options.transport?.(name) ?? this.channel(url);
      const tracing = clientTracing(options.tracer, { peer: new URL(url), attributes: { [Tiermesh.tier]: name, [Tiermesh.probe]: true } });
      this.clients.set(name, createClient(TierExecutorService, withInterceptors(transport, tracing)));
      this.deployments.set(
        name,
        tier.models.map((m) => ({ id: m.id ?? `${m.provider}/${m.model}`, provider: m.provider, model: m.model })),
      );
    }
  }

  start(): void {
    if (this.options.config.health_monitor.probe.interval_ms === 0) return;
    this.timer = setInterval(() => this.tick(Date.now()), this.schedule.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.controller.abort();
    for (const channel of this.channels) channel.close();
  }

  private channel(url: string): ClosableTransport {
    const channel = createGrpcJsTransport(url);
    this.channels.push(channel);
    return channel;
  }

  /** Starts the probes that are due at `now`. */
  tick(now: number): void {
    for (const [tier, deployments] of this.deployments) {
      const recovering = this.options.recovering?.(tier) ?? false;
      for (const d of deployments) {
        const key = this.key(tier, d.id);
        if (this.busy.has(key)) continue;
        const decision = this.schedule.decide(key, now, recovering, this.options.trafficAt?.(tier, d.id));
        if (decision === "probe") void this.probe(tier, d, recovering ? this.recoveryTimeoutMs(tier) : undefined);
        else if (decision !== "wait") this.options.metrics?.skipped(tier, d.id, decision === "covered" ? "traffic" : "retry_after");
      }
    }
  }

  async probe(tier: string, target: Target, timeoutMs?: number): Promise<void> {
    const deployment = target.id;
    const key = this.key(tier, deployment);
    if (this.busy.has(key)) return;
    this.busy.add(key);
    const { probe } = this.options.config.health_monitor;
    const started = performance.now();
    let outcome: Outcome;
    try {
      const res = await this.clients.get(tier)!.execute(
        {
          tier,
          deployment,
          probe: true,
          requestId: `probe-${tier}-${Date.now()}`,
          input: { messages: [{ role: "user", content: probe.prompt }], maxTokens: probe.max_tokens },
        },
        { timeoutMs: timeoutMs ?? probe.timeout_ms, signal: this.controller.signal },
      );
      outcome = create(OutcomeSchema, {
        tier,
        model: res.model,
        provider: res.provider,
        deployment: res.deployment,
        status: OutcomeStatus.OK,
        ttftMs: Math.round(Number(res.timings?.ttftUs ?? 0n) / 1_000),
        latencyMs: Math.round(performance.now() - started),
        costUsd: res.costUsd,
        probe: true,
        atMs: BigInt(Date.now()),
      });
    } catch (cause) {
      if (this.controller.signal.aborted) return;
      const err = ConnectError.from(cause);
      const waitMs = retryAfterMsOf(err.metadata);
      // Capped like the executor's cool-down: an absurd Retry-After must not stop probing for hours.
      if (waitMs !== undefined)
        this.schedule.coolDown(key, Date.now() + Math.min(waitMs, this.options.config.tiers[tier]!.cooldown.max_ms));
      if (err.metadata.get(ERROR_REASON_HEADER) === DEPLOYMENT_COOLING) {
        // Refused before any provider call: rate limited, not down, and not an answer either.
        this.options.metrics?.skipped(tier, deployment, "retry_after");
        return;
      }
      const code = err.code;
      const status =
        code === Code.DeadlineExceeded
          ? OutcomeStatus.TIMEOUT
          : code === Code.ResourceExhausted
            ? OutcomeStatus.RATE_LIMITED
            : code === Code.InvalidArgument
              ? OutcomeStatus.CLIENT_ERROR
              : OutcomeStatus.ERROR;
      outcome = create(OutcomeSchema, {
        tier,
        deployment,
        provider: target.provider,
        model: target.model,
        status,
        probe: true,
        latencyMs: Math.round(performance.now() - started),
        atMs: BigInt(Date.now()),
      });
    } finally {
      this.busy.delete(key);
    }
    this.options.metrics?.sent(tier, deployment, outcome.status, outcome.costUsd);
    this.options.record(outcome);
  }

  private recoveryTimeoutMs(tier: string): number {
    const { timeout_ms } = this.options.config.health_monitor.probe;
    return Math.min(timeout_ms, RECOVERY_TIMEOUT_FACTOR * this.options.config.tiers[tier]!.slo.ttft_p95_ms);
  }

  private key(tier: string, deployment: string): string {
    return `${tier}\u0000${deployment}`;
  }
}

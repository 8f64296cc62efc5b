import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { endpointUrl, type Config } from "@tiermesh/config";
import { OutcomeSchema, OutcomeStatus, TierExecutorService, type Outcome } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { ProbeSchedule } from "./probe-schedule.js";

/** A recovering tier's probe gives up after this many times its TTFT SLO (at most `probe.timeout_ms`). */
const RECOVERY_TIMEOUT_FACTOR = 2;

export interface CanaryProberOptions {
  config: Config;
  /** Receives one outcome per probe. */
  record: (outcome: Outcome) => void;
  /** True while a tier is down or degraded since leaving down; its deployments are then probed every `down_interval_ms`. */
  recovering?: (tier: string) => boolean;
  /** How to reach a tier's executor; defaults to its configured address (tests pass an in-memory transport). */
  transport?: (tier: string) => Transport;
}

interface Target {
  id: string;
  provider: string;
  model: string;
}

/**
 * Sends a small canary request through every tier's executor to each deployment of its
 * pool, so an idle tier is still watched and a recovered deployment is noticed even while
 * its breaker keeps traffic away: every `probe.interval_ms`, and every
 * `probe.down_interval_ms` while the tier is down or recovering, so a recovery is seen within
 * a few hundred ms. One probe per deployment in flight; a recovering tier's probe gives up
 * after twice its TTFT SLO, so one hung probe cannot hide the recovery for long.
 */
export class CanaryProber {
  private readonly clients = new Map<string, Client<typeof TierExecutorService>>();
  private readonly deployments = new Map<string, Target[]>();
  private readonly busy = new Set<string>();
  private readonly schedule: ProbeSchedule;
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();

  constructor(private readonly options: CanaryProberOptions) {
    const { probe } = options.config.health_monitor;
    this.schedule = new ProbeSchedule(probe.interval_ms, probe.down_interval_ms);
    for (const [name, tier] of Object.entries(options.config.tiers)) {
      const transport = options.transport?.(name) ?? createMeshTransport(endpointUrl(tier.executor));
      this.clients.set(name, createClient(TierExecutorService, transport));
      this.deployments.set(name, tier.models.map((m) => ({ id: m.id ?? `${m.provider}/${m.model}`, provider: m.provider, model: m.model })));
    }
  }

  start(): void {
    if (this.options.config.health_monitor.probe.interval_ms === 0) return;
    this.timer = setInterval(() => this.tick(Date.now()), this.schedule.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.controller.abort();
  }

  /** Starts the probes that are due at `now`. */
  tick(now: number): void {
    for (const [tier, deployments] of this.deployments) {
      const recovering = this.options.recovering?.(tier) ?? false;
      for (const d of deployments) {
        const key = this.key(tier, d.id);
        if (this.busy.has(key) || !this.schedule.take(key, now, recovering)) continue;
        void this.probe(tier, d, recovering ? this.recoveryTimeoutMs(tier) : undefined);
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
        { tier, deployment, probe: true, requestId: `probe-${tier}-${Date.now()}`, input: { messages: [{ role: "user", content: probe.prompt }], maxTokens: probe.max_tokens } },
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
      const code = ConnectError.from(cause).code;
      const status =
        code === Code.DeadlineExceeded
          ? OutcomeStatus.TIMEOUT
          : code === Code.ResourceExhausted
            ? OutcomeStatus.RATE_LIMITED
            : code === Code.InvalidArgument
              ? OutcomeStatus.CLIENT_ERROR
              : OutcomeStatus.ERROR;
      outcome = create(OutcomeSchema, { tier, deployment, provider: target.provider, model: target.model, status, probe: true, latencyMs: Math.round(performance.now() - started), atMs: BigInt(Date.now()) });
    } finally {
      this.busy.delete(key);
    }
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

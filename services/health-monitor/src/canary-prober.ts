import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { endpointUrl, type Config } from "@tiermesh/config";
import { OutcomeSchema, OutcomeStatus, TierExecutorService, type Outcome } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";

export interface CanaryProberOptions {
  config: Config;
  /** Receives one outcome per probe. */
  record: (outcome: Outcome) => void;
}

/**
 * Sends a small canary request through every tier's executor to each deployment of its
 * pool at a fixed interval, so an idle tier is still watched and a recovered deployment is
 * noticed even while its breaker keeps traffic away. One probe per deployment in flight.
 */
export class CanaryProber {
  private readonly clients = new Map<string, Client<typeof TierExecutorService>>();
  private readonly deployments = new Map<string, { id: string; provider: string; model: string }[]>();
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();

  constructor(private readonly options: CanaryProberOptions) {
    for (const [name, tier] of Object.entries(options.config.tiers)) {
      this.clients.set(name, createClient(TierExecutorService, createMeshTransport(endpointUrl(tier.executor))));
      this.deployments.set(name, tier.models.map((m) => ({ id: m.id ?? `${m.provider}/${m.model}`, provider: m.provider, model: m.model })));
    }
  }

  start(): void {
    const interval = this.options.config.health_monitor.probe.interval_ms;
    if (interval === 0) return;
    this.timer = setInterval(() => {
      for (const [tier, deployments] of this.deployments) for (const d of deployments) void this.probe(tier, d);
    }, interval);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.controller.abort();
  }

  async probe(tier: string, target: { id: string; provider: string; model: string }): Promise<void> {
    const deployment = target.id;
    const key = `${tier}\u0000${deployment}`;
    if (this.busy.has(key)) return;
    this.busy.add(key);
    const { probe } = this.options.config.health_monitor;
    const started = performance.now();
    let outcome: Outcome;
    try {
      const res = await this.clients.get(tier)!.execute(
        { tier, deployment, probe: true, requestId: `probe-${tier}-${Date.now()}`, input: { messages: [{ role: "user", content: probe.prompt }], maxTokens: probe.max_tokens } },
        { timeoutMs: probe.timeout_ms, signal: this.controller.signal },
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
}

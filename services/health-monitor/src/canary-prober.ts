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
 * Sends a small canary request to every tier's executor at a fixed interval, so an
 * idle tier is still watched and a recovered one is noticed. One probe per tier in flight.
 */
export class CanaryProber {
  private readonly clients = new Map<string, Client<typeof TierExecutorService>>();
  private readonly busy = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly controller = new AbortController();

  constructor(private readonly options: CanaryProberOptions) {
    for (const [name, tier] of Object.entries(options.config.tiers)) {
      this.clients.set(name, createClient(TierExecutorService, createMeshTransport(endpointUrl(tier.executor))));
    }
  }

  start(): void {
    const interval = this.options.config.health_monitor.probe.interval_ms;
    if (interval === 0) return;
    this.timer = setInterval(() => {
      for (const tier of this.clients.keys()) void this.probe(tier);
    }, interval);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.controller.abort();
  }

  async probe(tier: string): Promise<void> {
    if (this.busy.has(tier)) return;
    this.busy.add(tier);
    const { probe } = this.options.config.health_monitor;
    const started = performance.now();
    let outcome: Outcome;
    try {
      const res = await this.clients.get(tier)!.execute(
        { tier, probe: true, requestId: `probe-${tier}-${Date.now()}`, input: { messages: [{ role: "user", content: probe.prompt }], maxTokens: probe.max_tokens } },
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
      outcome = create(OutcomeSchema, { tier, status, probe: true, latencyMs: Math.round(performance.now() - started), atMs: BigInt(Date.now()) });
    } finally {
      this.busy.delete(tier);
    }
    this.options.record(outcome);
  }
}

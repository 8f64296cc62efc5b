import type { TierConfig } from "@tiermesh/config";
import { HedgeBudget, RetryBudget, type Logger } from "@tiermesh/runtime";
import type { Tracer } from "@tiermesh/telemetry";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { Bulkhead } from "./bulkhead.js";
import { checkContinuable, continuationCapable } from "./continuation-handoff.js";
import { DeploymentPicker } from "./deployment-picker.js";
import { DeploymentState } from "./deployment-state.js";
import { probeRefusal } from "./probe-refusal.js";
import type { ProviderAdapter } from "./providers/provider-adapter.js";
import { providerRequestOf } from "./provider-request.js";
import { serveWithRetries } from "./retry-loop.js";
import { RunCache } from "./run-cache.js";
import type { RunContext, RunEvent, RunRequest, RunResult } from "./run-contract.js";
import type { TierParts } from "./run-scope.js";
import { systemClock, type Clock } from "./stall-detector.js";
import { acquireSlot } from "./tier-failure.js";
import { TtftTracker } from "./ttft-tracker.js";

export type { RunContext, RunEvent, RunRequest, RunResult } from "./run-contract.js";

export interface TierRunnerOptions {
  tierName: string;
  tier: TierConfig;
  providers: ReadonlyMap<string, ProviderAdapter>;
  report: (outcome: OutcomeInit) => void;
  random?: () => number;
  now?: () => number;
  /** Monotonic time and timers for stall detection. */
  clock?: Clock;
  logger?: Logger;
  /** Traces every provider call; undefined while tracing is off. */
  tracer?: Tracer | undefined;
}

/**
 * Serves one request from a tier's pool, keeping the tier's promises: its prompt settings,
 * a bulkhead (bounded concurrency and queue), deployment selection that skips open circuit
 * breakers and 429 cool-downs, retries within the retry budget and the request's attempt
 * limit (never back to a deployment that timed out or stalled on this request), hedging
 * after the tier's recent p95 time to first token (or advice to hedge on another tier when
 * nothing here can take the hedge), stall detection per deployment, a response cache for
 * deterministic requests, and the caller's deadline on every attempt. Yields answer text as
 * it arrives; fails over (restarts) only before the first piece of text was yielded, and
 * after it continues the answer from its text on another deployment (see continueAnswer).
 *
 * A run goes cache → bulkhead slot → retry loop (serveWithRetries), whose rounds
 * (attemptRound) race an attempt against its hedge (planHedge) and hand a stream cut
 * mid-way to its continuation (handOff).
 */
export class TierRunner {
  private readonly parts: TierParts;
  private readonly bulkhead: Bulkhead;
  private readonly cache: RunCache;

  constructor(options: TierRunnerOptions) {
    const { tierName, tier, logger } = options;
    const random = options.random ?? Math.random;
    const now = options.now ?? Date.now;
    const states = DeploymentState.fromConfig(tier, now, options.clock ?? systemClock, (state, stall) =>
      logger?.warn(
        { tier: tierName, deployment: state.deployment.id, ...stall },
        "deployment stalled: no first token within the stall threshold; circuit breaker opened, waiting attempts moved on",
      ),
    );
    this.parts = {
      tierName,
      tier,
      providers: options.providers,
      report: options.report,
      logger,
      random,
      now,
      states,
      picker: new DeploymentPicker(states, tier.pool.strategy, random, now, tier.stall.hold_ms),
      retryBudget: new RetryBudget(tier.retries.budget_ratio, tier.retries.min_retries_per_second, now),
      hedgeBudget: new HedgeBudget(tier.hedge.max_extra_ratio),
      ttft: new TtftTracker(),
      capable: continuationCapable(options.providers),
      tracer: options.tracer,
    };
    this.bulkhead = new Bulkhead(tier.bulkhead, now);
    this.cache = new RunCache(tierName, tier, now);
  }

  /** Requests holding and waiting for a bulkhead slot. */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.bulkhead.inUse, queued: this.bulkhead.queued };
  }

  /** Deployments with their breaker state, stall detector, load and speed (for metrics and tests). */
  get deployments(): readonly DeploymentState[] {
    return this.parts.states;
  }

  async *run(request: RunRequest, ctx: RunContext): AsyncGenerator<RunEvent, RunResult> {
    const started = performance.now();
    const { parts } = this;
    const { tierName, tier, states } = parts;
    const directed = request.deployment === undefined ? undefined : states.find((s) => s.deployment.id === request.deployment);
    const refusal = directed && probeRefusal(tierName, directed, parts.now());
    if (refusal) throw refusal;
    const providerRequest = providerRequestOf(tierName, tier, request);
    const key = this.cache.keyOf(request, providerRequest);
    const hit = this.cache.get(key);
    if (hit) return yield* this.cache.replay(hit, started);
    if (request.assistantPrefix) checkContinuable(parts);
    // Canary probes do not take the tier's capacity from its users.
    const release = request.probe ? () => {} : await acquireSlot(tierName, this.bulkhead, ctx);
    const run = this.cache.recording(key, serveWithRetries(parts, request, providerRequest, ctx, started));
    try {
      return yield* run;
    } finally {
      // A caller that stops reading must not leave the provider request open.
      await run.return(undefined as never).catch(() => undefined);
      release();
    }
  }
}

import { deploymentId, type BreakerConfig, type DeploymentConfig, type TierConfig } from "@tiermesh/config";
import { CircuitBreaker } from "./circuit-breaker.js";
import { Ewma } from "./deployment-selector.js";
import { InterTokenStall, type InterTokenSettings } from "./inter-token-stall.js";
import { ProbeTally } from "./probe-tally.js";
import type { ProviderFailure } from "./providers/provider-error.js";
import { StallDetector, systemClock, type Clock, type Stall, type StallSettings } from "./stall-detector.js";

export interface Deployment {
  id: string;
  provider: string;
  model: string;
  weight: number;
  price: DeploymentConfig["price"];
  /** Tokens the model takes, prompt and completion together; undefined = unknown. */
  contextWindow?: number | undefined;
}

/** How long a provider's request to wait cools a deployment down (`tiers.<name>.cooldown`). */
export interface CooldownSettings {
  /** After a 429 without a Retry-After. */
  defaultMs: number;
  /** Cap on any cool-down. */
  maxMs: number;
}

const DEFAULT_COOLDOWN: CooldownSettings = { defaultMs: 1_000, maxMs: 60_000 };

/** Called after a deployment stalled (its breaker is already open). */
export type StallListener = (state: DeploymentState, stall: Stall) => void;

const NO_PACE: InterTokenSettings = { enabled: false, multiple: 1, minMs: 1, maxMs: 1 };

/** What the executor tracks of one deployment: its breaker, stall detectors, load, speed and 429 cooldown. */
export class DeploymentState {
  readonly breaker: CircuitBreaker;
  readonly stall: StallDetector;
  /** Streams gone silent between tokens. */
  readonly pace: InterTokenStall;
  readonly ttft = new Ewma();
  readonly probes = new ProbeTally();
  outstanding = 0;
  /** Epoch ms until which the provider asked us (429, Retry-After) not to call: no attempt, no probe. */
  coolingUntil = 0;
  /** Malformed stream chunks skipped since start. */
  skippedChunks = 0;

  constructor(
    readonly deployment: Deployment,
    breaker: BreakerConfig,
    now: () => number,
    stall: StallSettings = { enabled: false, ttftMultiple: 1, minMs: 1, maxMs: 1, quorum: 0, quorumTtftMultiple: 1 },
    clock: Clock = systemClock,
    onStall: StallListener = () => undefined,
    private readonly cooldown: CooldownSettings = DEFAULT_COOLDOWN,
    pace: InterTokenSettings = NO_PACE,
  ) {
    this.breaker = new CircuitBreaker(breaker, now);
    this.pace = new InterTokenStall(pace, clock);
    // A stall is direct evidence: no more attempts until open_ms has passed (or a probe answers).
    this.stall = new StallDetector(stall, clock, (s) => {
      this.breaker.trip();
      onStall(this, s);
    });
  }

  /** Fresh evidence of health (a canary probe it answered): close the breaker, forget the stall. */
  recover(): void {
    this.breaker.reset();
    this.stall.reset();
  }

  /**
   * The provider answered `failure`, asking to wait `retryAfterMs` (its Retry-After): cool
   * down for that long, or `defaultMs` after a 429 that named no wait; never longer than
   * `maxMs`, and never shorter than a cool-down already running.
   */
  coolDown(failure: ProviderFailure, retryAfterMs: number | undefined, now: number): void {
    const wait = retryAfterMs ?? (failure === "rate_limited" ? this.cooldown.defaultMs : undefined);
    if (wait === undefined) return;
    this.coolingUntil = Math.max(this.coolingUntil, now + Math.min(wait, this.cooldown.maxMs));
  }

  /** How much longer the cool-down lasts at `now`; 0 when the deployment may be called. */
  coolingForMs(now: number): number {
    return Math.max(0, this.coolingUntil - now);
  }

  static fromConfig(tier: TierConfig, now: () => number, clock: Clock = systemClock, onStall?: StallListener): DeploymentState[] {
    const stall = stallSettings(tier);
    const pace = interTokenSettings(tier);
    const cooldown = { defaultMs: tier.cooldown.default_ms, maxMs: tier.cooldown.max_ms };
    return tier.models.map(
      (m) =>
        new DeploymentState(
          { ...m, id: deploymentId(m), contextWindow: m.context_window },
          tier.breaker,
          now,
          stall,
          clock,
          onStall,
          cooldown,
          pace,
        ),
    );
  }
}

/** The tier's stall settings; the threshold never exceeds the tier's TTFT timeout. */
export function stallSettings(tier: TierConfig): StallSettings {
  const { stall, timeouts } = tier;
  return {
    enabled: stall.enabled,
    ttftMultiple: stall.ttft_multiple,
    minMs: stall.min_ms,
    maxMs: Math.min(stall.max_ms ?? timeouts.ttft_ms, timeouts.ttft_ms),
    quorum: stall.quorum,
    quorumTtftMultiple: stall.quorum_ttft_multiple,
  };
}

/** The tier's inter-token stall settings; the threshold never exceeds the tier's attempt timeout. */
export function interTokenSettings(tier: TierConfig): InterTokenSettings {
  const { inter_token } = tier.stall;
  const maxMs = Math.min(inter_token.max_ms, tier.timeouts.attempt_ms);
  return { enabled: inter_token.enabled, multiple: inter_token.multiple, minMs: Math.min(inter_token.min_ms, maxMs), maxMs };
}

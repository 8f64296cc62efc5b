import type { BreakerConfig, DeploymentConfig, TierConfig } from "@tiermesh/config";
import { CircuitBreaker } from "./circuit-breaker.js";
import { Ewma } from "./deployment-selector.js";
import { InterTokenStall, type InterTokenSettings } from "./inter-token-stall.js";
import { StallDetector, systemClock, type Clock, type Stall, type StallSettings } from "./stall-detector.js";

export interface Deployment {
  id: string;
  provider: string;
  model: string;
  weight: number;
  price: DeploymentConfig["price"];
}

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
  outstanding = 0;
  /** Epoch ms until which the provider asked us (429 Retry-After) not to call. */
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

  static fromConfig(tier: TierConfig, now: () => number, clock: Clock = systemClock, onStall?: StallListener): DeploymentState[] {
    const stall = stallSettings(tier);
    const pace = interTokenSettings(tier);
    return tier.models.map(
      (m) => new DeploymentState({ ...m, id: m.id ?? `${m.provider}/${m.model}` }, tier.breaker, now, stall, clock, onStall, pace),
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

import type { TierSloConfig } from "@tiermesh/config";
import { TierState } from "@tiermesh/proto";
import type { Sli } from "./sli-window.js";

export interface Signals {
  sli: Sli;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  /** A multi-window burn-rate alert that fires, in words. */
  burning?: string | undefined;
}

export interface Transition {
  state: TierState;
  reason: string;
}

/** Exit thresholds are this share of the enter thresholds, so a value near the line does not flap. */
const EXIT_RATIO = 0.8;
/** Going down again within this many windows of leaving down counts as a flap. */
const FLAP_WINDOWS = 6;
/** Each flap doubles what leaving down takes, up to this factor. */
const MAX_DAMPING = 16;

/**
 * Health of one tier with hysteresis: a worse state is entered at once; a better one only
 * after the tier has stayed `min_dwell_ms` in its state and its SLIs are clear of the
 * enter thresholds by a margin. Leaving `down` takes `recovery_successes` successes in a
 * row (requests or canary probes) and leads to `degraded`; `healthy` then needs
 * `min_samples` fresh outcomes within the SLO. A tier that goes down again soon after
 * leaving down must show twice the successes and dwell next time (flap damping).
 */
export class TierStateMachine {
  private current: TierState;
  private since: number;
  /** Doubles with every flap (down again soon after leaving down); 1 when calm. */
  private damping = 1;
  private leftDownAt = -Infinity;

  constructor(
    private readonly slo: TierSloConfig,
    initial: TierState = TierState.HEALTHY,
    since = 0,
  ) {
    this.current = initial;
    this.since = since;
  }

  get state(): TierState {
    return this.current;
  }

  get sinceMs(): number {
    return this.since;
  }

  /** Evaluates the signals; returns a transition when the state changes. */
  evaluate(s: Signals, now: number): Transition | undefined {
    const next = this.target(s);
    if (next.state === this.current) return undefined;
    const worse = next.state > this.current;
    const calmFor = now - this.leftDownAt;
    if (this.current !== TierState.DOWN && calmFor > FLAP_WINDOWS * this.slo.window_ms) this.damping = 1;
    if (!worse) {
      const leavingDown = this.current === TierState.DOWN;
      const dwell = this.slo.min_dwell_ms * (leavingDown ? this.damping : 1);
      if (now - this.since < dwell) return undefined;
      if (leavingDown && s.consecutiveSuccesses < this.slo.recovery_successes * this.damping) return undefined;
      if (leavingDown) this.leftDownAt = now;
    } else if (next.state === TierState.DOWN && calmFor <= FLAP_WINDOWS * this.slo.window_ms) {
      // Down again soon after recovering: make the next recovery prove more (flap damping).
      this.damping = Math.min(MAX_DAMPING, this.damping * 2);
    }
    this.current = next.state;
    this.since = now;
    return next;
  }

  private target({ sli, consecutiveFailures, consecutiveSuccesses, burning }: Signals): Transition {
    const slo = this.slo;
    const enough = sli.sampleCount >= slo.min_samples;
    const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
    if (consecutiveFailures >= slo.consecutive_failures_down) {
      return { state: TierState.DOWN, reason: `${consecutiveFailures} consecutive failed attempts` };
    }
    if (this.current === TierState.DOWN) {
      if (consecutiveSuccesses >= slo.recovery_successes * this.damping) {
        return { state: TierState.DEGRADED, reason: `recovering: ${consecutiveSuccesses} consecutive successful attempts` };
      }
      return { state: TierState.DOWN, reason: "still down" };
    }
    if (enough && sli.errorRate >= slo.error_rate_down) {
      return {
        state: TierState.DOWN,
        reason: `error rate ${pct(sli.errorRate)} >= ${pct(slo.error_rate_down)} over ${sli.sampleCount} attempts`,
      };
    }
    const degradedNow = this.current === TierState.DEGRADED;
    const errorLine = degradedNow ? slo.error_rate_degraded * EXIT_RATIO : slo.error_rate_degraded;
    const ttftLine = degradedNow ? slo.ttft_p95_ms * EXIT_RATIO : slo.ttft_p95_ms;
    if (enough && sli.errorRate >= errorLine) {
      return { state: TierState.DEGRADED, reason: `error rate ${pct(sli.errorRate)} against SLO ${pct(slo.error_rate_degraded)}` };
    }
    if (enough && sli.ttftP95Ms > ttftLine) {
      return { state: TierState.DEGRADED, reason: `TTFT p95 ${sli.ttftP95Ms} ms against SLO ${slo.ttft_p95_ms} ms` };
    }
    if (burning !== undefined) return { state: TierState.DEGRADED, reason: burning };
    if (degradedNow && !enough) return { state: TierState.DEGRADED, reason: "too few samples to clear" };
    return { state: TierState.HEALTHY, reason: "within SLO" };
  }
}

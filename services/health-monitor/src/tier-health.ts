import { create } from "@bufbuild/protobuf";
import type { TierSloConfig } from "@tiermesh/config";
import { OutcomeStatus, TierSliSchema, TierState, type Outcome, type TierSli } from "@tiermesh/proto";
import { BurnRateTracker } from "./burn-rate.js";
import { attemptStartMs, isTierFailure } from "./outcome-class.js";
import { RecoveryEvidence } from "./recovery-evidence.js";
import { SliWindow } from "./sli-window.js";
import { TierStateMachine, type Transition } from "./tier-state-machine.js";

/** Everything the monitor knows about one tier: its window, streaks and state. */
export class TierHealth {
  private readonly window: SliWindow;
  private readonly burn: BurnRateTracker;
  private readonly machine: TierStateMachine;
  private readonly evidence = new RecoveryEvidence();
  private failures = 0;
  private lastReason: string;
  /** Degraded since leaving down, not yet healthy again. */
  private fromDown = false;

  constructor(
    readonly tier: string,
    slo: TierSloConfig,
    initial: { state: TierState; sinceMs: number; reason: string } = {
      state: TierState.HEALTHY,
      sinceMs: 0,
      reason: "no failures observed",
    },
  ) {
    this.window = new SliWindow(slo.window_ms);
    this.burn = new BurnRateTracker(slo);
    this.machine = new TierStateMachine(slo, initial.state, initial.sinceMs);
    this.lastReason = initial.reason;
    if (initial.state === TierState.DOWN) this.evidence.wentDown(initial.sinceMs);
  }

  get state(): TierState {
    return this.machine.state;
  }

  get sinceMs(): number {
    return this.machine.sinceMs;
  }

  get reason(): string {
    return this.lastReason;
  }

  /** Down, or degraded since leaving down and not yet healthy: worth probing often. */
  get recovering(): boolean {
    return this.state === TierState.DOWN || (this.state === TierState.DEGRADED && this.fromDown);
  }

  /**
   * Records one attempt's outcome. `countsAsTierFailure: false` keeps a failure out of the
   * tier's streaks and SLIs altogether (one deployment failing while another of the tier
   * still serves: the executor moves those attempts on, the tier itself is up).
   */
  record(outcome: Outcome, now: number, countsAsTierFailure = true): void {
    const start = attemptStartMs(outcome, now);
    // An attempt started before the tier left down belongs to the outage, which was acted on.
    if (!this.evidence.isCurrent(start)) return;
    if (!countsAsTierFailure && isTierFailure(outcome.status)) return;
    if (outcome.status === OutcomeStatus.OK) {
      this.failures = 0;
      this.evidence.success(start);
    } else if (isTierFailure(outcome.status) && countsAsTierFailure) {
      this.failures++;
      this.evidence.failure(start);
    }
    this.window.record(outcome, now);
    // While down, traffic is withheld and probes run often: their failures are the outage
    // being watched, not users' budget burning, and must not hold the recovered tier degraded.
    if (this.machine.state !== TierState.DOWN) this.burn.record(outcome, now);
  }

  /** Re-evaluates the state; returns the transition and the state it left, if any. */
  evaluate(now: number): (Transition & { previous: TierState }) | undefined {
    const previous = this.machine.state;
    const t = this.machine.evaluate(
      {
        sli: this.window.sli(now),
        consecutiveFailures: this.failures,
        consecutiveSuccesses: this.evidence.streak,
        burning: this.machine.state === TierState.DOWN ? undefined : this.burn.evaluate(now).firing,
      },
      now,
    );
    if (!t) return undefined;
    // Only attempts started after going down count toward leaving it.
    if (t.state === TierState.DOWN) this.evidence.wentDown(now);
    if (previous === TierState.DOWN) {
      // The outage's failures must not hold a recovering tier down: start its window afresh.
      // It leaves down for degraded, and needs min_samples fresh outcomes to be healthy.
      this.window.clear();
      // Likewise the burn-rate alerts: the outage burned the budget and was acted on (the
      // tier went down); it must not hold the recovered tier degraded for their long windows.
      this.burn.clear();
      this.evidence.leftDown();
    }
    if (previous === TierState.DOWN) this.fromDown = true;
    else if (t.state === TierState.HEALTHY) this.fromDown = false;
    this.lastReason = t.reason;
    return { ...t, previous };
  }

  sli(now: number): TierSli {
    return create(TierSliSchema, { ...this.window.sli(now), consecutiveFailures: this.failures });
  }
}

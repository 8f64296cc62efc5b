import { create } from "@bufbuild/protobuf";
import type { TierSloConfig } from "@tiermesh/config";
import { OutcomeStatus, TierSliSchema, TierState, type Outcome, type TierSli } from "@tiermesh/proto";
import { BurnRateTracker } from "./burn-rate.js";
import { SliWindow } from "./sli-window.js";
import { TierStateMachine, type Transition } from "./tier-state-machine.js";

/** Outcomes that count as the tier failing a request. */
const FAILURES = new Set([OutcomeStatus.ERROR, OutcomeStatus.TIMEOUT]);

/** Everything the monitor knows about one tier: its window, streaks and state. */
export class TierHealth {
  private readonly window: SliWindow;
  private readonly burn: BurnRateTracker;
  private readonly machine: TierStateMachine;
  private failures = 0;
  private successes = 0;
  private lastReason: string;

  constructor(
    readonly tier: string,
    slo: TierSloConfig,
    initial: { state: TierState; sinceMs: number; reason: string } = { state: TierState.HEALTHY, sinceMs: 0, reason: "no failures observed" },
  ) {
    this.window = new SliWindow(slo.window_ms);
    this.burn = new BurnRateTracker(slo);
    this.machine = new TierStateMachine(slo, initial.state, initial.sinceMs);
    this.lastReason = initial.reason;
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

  record(outcome: Outcome, now: number): void {
    if (outcome.status === OutcomeStatus.OK) {
      this.successes++;
      this.failures = 0;
    } else if (FAILURES.has(outcome.status)) {
      this.failures++;
      this.successes = 0;
    }
    this.window.record(outcome, now);
    this.burn.record(outcome, now);
  }

  /** Re-evaluates the state; returns the transition and the state it left, if any. */
  evaluate(now: number): (Transition & { previous: TierState }) | undefined {
    const previous = this.machine.state;
    const t = this.machine.evaluate(
      {
        sli: this.window.sli(now),
        consecutiveFailures: this.failures,
        consecutiveSuccesses: this.successes,
        burning: this.machine.state === TierState.DOWN ? undefined : this.burn.evaluate(now).firing,
      },
      now,
    );
    if (!t) return undefined;
    // Only successes after going down count toward leaving it.
    if (t.state === TierState.DOWN) this.successes = 0;
    // The outage's failures must not hold a recovering tier down: start its window afresh.
    // It leaves down for degraded, and needs a full window of clean samples to be healthy.
    if (previous === TierState.DOWN) this.window.clear();
    this.lastReason = t.reason;
    return { ...t, previous };
  }

  sli(now: number): TierSli {
    return create(TierSliSchema, { ...this.window.sli(now), consecutiveFailures: this.failures });
  }
}

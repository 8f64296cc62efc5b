import type { TierSloConfig } from "@tiermesh/config";
import { TierState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import type { Sli } from "./sli-window.js";
import { TierStateMachine, type Signals } from "./tier-state-machine.js";

const slo: TierSloConfig = {
  window_ms: 10_000,
  min_samples: 10,
  error_rate_degraded: 0.05,
  error_rate_down: 0.5,
  ttft_p95_ms: 1_000,
  consecutive_failures_down: 3,
  recovery_successes: 3,
  min_dwell_ms: 3_000,
  availability_target: 0.99,
  latency_target: 0.95,
  burn_alerts: [],
};

function signals(sli: Partial<Sli> = {}, streaks: Partial<Omit<Signals, "sli">> = {}): Signals {
  return {
    sli: {
      sampleCount: 100,
      errorRate: 0,
      timeoutRate: 0,
      rateLimitedRate: 0,
      ttftP50Ms: 100,
      ttftP95Ms: 200,
      ttftP99Ms: 300,
      latencyP95Ms: 500,
      costUsdPerMinute: 0,
      windowMs: 10_000,
      ...sli,
    },
    consecutiveFailures: 0,
    consecutiveSuccesses: 0,
    ...streaks,
  };
}

describe("TierStateMachine: getting worse", () => {
  it("consecutive failures mark the tier down at once, whatever the window says", () => {
    const m = new TierStateMachine(slo, TierState.HEALTHY, 0);
    expect(m.evaluate(signals({ sampleCount: 2 }, { consecutiveFailures: 2 }), 10)).toBeUndefined();
    expect(m.evaluate(signals({ sampleCount: 3 }, { consecutiveFailures: 3 }), 20)).toEqual({
      state: TierState.DOWN,
      reason: "3 consecutive failed attempts",
    });
    expect(m.state).toBe(TierState.DOWN);
    expect(m.sinceMs).toBe(20);
  });

  it("error rate at the degraded line degrades; just under it does not", () => {
    const m = new TierStateMachine(slo);
    expect(m.evaluate(signals({ errorRate: 0.049 }), 1)).toBeUndefined();
    expect(m.evaluate(signals({ errorRate: 0.05 }), 2)).toEqual({ state: TierState.DEGRADED, reason: "error rate 5.0% against SLO 5.0%" });
  });

  it("error rate at the down line is down", () => {
    const m = new TierStateMachine(slo);
    expect(m.evaluate(signals({ errorRate: 0.5, sampleCount: 10 }), 1)).toEqual({
      state: TierState.DOWN,
      reason: "error rate 50.0% >= 50.0% over 10 attempts",
    });
  });

  it("TTFT p95 above the SLO degrades; at the SLO it does not", () => {
    const m = new TierStateMachine(slo);
    expect(m.evaluate(signals({ ttftP95Ms: 1_000 }), 1)).toBeUndefined();
    expect(m.evaluate(signals({ ttftP95Ms: 1_001 }), 2)).toEqual({
      state: TierState.DEGRADED,
      reason: "TTFT p95 1001 ms against SLO 1000 ms",
    });
  });

  it("ratios and percentiles over fewer than min_samples change nothing", () => {
    const m = new TierStateMachine(slo);
    expect(m.evaluate(signals({ sampleCount: 9, errorRate: 1 }), 1)).toBeUndefined();
    expect(m.evaluate(signals({ sampleCount: 9, ttftP95Ms: 60_000 }), 2)).toBeUndefined();
    expect(m.state).toBe(TierState.HEALTHY);
  });

  it("degraded goes down at once, without waiting for the dwell time", () => {
    const m = new TierStateMachine(slo, TierState.DEGRADED, 1_000);
    expect(m.evaluate(signals({ errorRate: 0.6 }), 1_001)?.state).toBe(TierState.DOWN);
  });
});

describe("TierStateMachine: getting better", () => {
  it("leaving down needs recovery_successes AND min_dwell_ms", () => {
    const m = new TierStateMachine(slo, TierState.DOWN, 10_000);
    // Enough successes, too early.
    expect(m.evaluate(signals({}, { consecutiveSuccesses: 10 }), 12_999)).toBeUndefined();
    // Late enough, too few successes.
    expect(m.evaluate(signals({}, { consecutiveSuccesses: 2 }), 13_000)).toBeUndefined();
    expect(m.state).toBe(TierState.DOWN);
    expect(m.evaluate(signals({}, { consecutiveSuccesses: 3 }), 13_000)).toEqual({
      state: TierState.DEGRADED,
      reason: "recovering: 3 consecutive successful attempts",
    });
    expect(m.sinceMs).toBe(13_000);
  });

  it("a down tier with a clean window but no successes stays down", () => {
    const m = new TierStateMachine(slo, TierState.DOWN, 0);
    expect(m.evaluate(signals({ sampleCount: 0 }), 60_000)).toBeUndefined();
    expect(m.state).toBe(TierState.DOWN);
  });

  it("degraded improves only after the dwell time", () => {
    const m = new TierStateMachine(slo, TierState.DEGRADED, 5_000);
    expect(m.evaluate(signals(), 7_999)).toBeUndefined();
    expect(m.evaluate(signals(), 8_000)).toEqual({ state: TierState.HEALTHY, reason: "within SLO" });
  });

  it("hysteresis: error rate between 0.8x and 1x the threshold keeps a degraded tier degraded", () => {
    const m = new TierStateMachine(slo, TierState.DEGRADED, 0);
    expect(m.evaluate(signals({ errorRate: 0.045 }), 60_000)).toBeUndefined();
    expect(m.evaluate(signals({ errorRate: 0.041 }), 60_000)).toBeUndefined();
    expect(m.state).toBe(TierState.DEGRADED);
    expect(m.evaluate(signals({ errorRate: 0.039 }), 60_000)?.state).toBe(TierState.HEALTHY);
    // ...while the same value does not degrade a healthy tier.
    expect(m.evaluate(signals({ errorRate: 0.045 }), 60_001)).toBeUndefined();
  });

  it("hysteresis: TTFT p95 between 0.8x and 1x the SLO keeps a degraded tier degraded", () => {
    const m = new TierStateMachine(slo, TierState.DEGRADED, 0);
    expect(m.evaluate(signals({ ttftP95Ms: 900 }), 60_000)).toBeUndefined();
    expect(m.evaluate(signals({ ttftP95Ms: 801 }), 60_000)).toBeUndefined();
    expect(m.evaluate(signals({ ttftP95Ms: 800 }), 60_000)?.state).toBe(TierState.HEALTHY);
  });

  it("a degraded tier does not clear on too few samples", () => {
    const m = new TierStateMachine(slo, TierState.DEGRADED, 0);
    expect(m.evaluate(signals({ sampleCount: 9 }), 60_000)).toBeUndefined();
    expect(m.state).toBe(TierState.DEGRADED);
  });
});

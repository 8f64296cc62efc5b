import { create } from "@bufbuild/protobuf";
import type { TierSloConfig } from "@tiermesh/config";
import { OutcomeSchema, OutcomeStatus, TierState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { TierHealth } from "./tier-health.js";

const slo: TierSloConfig = {
  window_ms: 10_000,
  min_samples: 10,
  error_rate_degraded: 0.05,
  error_rate_down: 0.5,
  ttft_p95_ms: 800,
  consecutive_failures_down: 3,
  recovery_successes: 3,
  min_dwell_ms: 3_000,
  availability_target: 0.99,
  latency_target: 0.95,
  burn_alerts: [],
};

const outcome = (status: OutcomeStatus, ttftMs = 100) => create(OutcomeSchema, { tier: "gold", status, ttftMs, latencyMs: ttftMs + 200 });
/** An attempt that ended at `endMs` after `latencyMs` (so started at endMs - latencyMs). */
const attempt = (status: OutcomeStatus, endMs: number, latencyMs: number, probe = false) =>
  create(OutcomeSchema, { tier: "gold", status, ttftMs: status === OutcomeStatus.OK ? 100 : 0, latencyMs, atMs: BigInt(endMs), probe });

/** Small seeded PRNG so the simulation is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("TierHealth", () => {
  it("consecutive failures take the tier down at once", () => {
    const h = new TierHealth("gold", slo);
    h.record(outcome(OutcomeStatus.ERROR), 100);
    h.record(outcome(OutcomeStatus.TIMEOUT), 110);
    expect(h.evaluate(120)).toBeUndefined();
    h.record(outcome(OutcomeStatus.ERROR), 130);
    expect(h.evaluate(140)).toEqual({ state: TierState.DOWN, reason: "3 consecutive failed attempts", previous: TierState.HEALTHY });
    expect(h.state).toBe(TierState.DOWN);
    expect(h.reason).toBe("3 consecutive failed attempts");
    expect(h.sinceMs).toBe(140);
    expect(h.sli(140).consecutiveFailures).toBe(3);
  });

  it("client errors, cancellations and rate limits neither break nor extend a failure streak", () => {
    const h = new TierHealth("gold", slo);
    h.record(outcome(OutcomeStatus.ERROR), 100);
    h.record(outcome(OutcomeStatus.CLIENT_ERROR), 101);
    h.record(outcome(OutcomeStatus.ERROR), 102);
    h.record(outcome(OutcomeStatus.CANCELLED), 103);
    h.record(outcome(OutcomeStatus.RATE_LIMITED), 104);
    expect(h.evaluate(105)).toBeUndefined();
    h.record(outcome(OutcomeStatus.TIMEOUT), 106);
    expect(h.evaluate(107)?.state).toBe(TierState.DOWN);
  });

  it("a success resets the failure streak", () => {
    const h = new TierHealth("gold", slo);
    for (const s of [OutcomeStatus.ERROR, OutcomeStatus.ERROR, OutcomeStatus.OK, OutcomeStatus.ERROR, OutcomeStatus.ERROR])
      h.record(outcome(s), 100);
    expect(h.evaluate(100)).toBeUndefined();
    expect(h.sli(100).consecutiveFailures).toBe(2);
  });

  it("recovers from down only after recovery_successes and the dwell, and then starts a fresh window", () => {
    const h = new TierHealth("gold", slo);
    // An outage: 20 errors in the window.
    for (let i = 0; i < 20; i++) h.record(outcome(OutcomeStatus.ERROR), 1_000 + i);
    expect(h.evaluate(1_100)?.state).toBe(TierState.DOWN);

    for (let i = 0; i < 3; i++) h.record(outcome(OutcomeStatus.OK), 2_000 + i);
    expect(h.evaluate(2_100)).toBeUndefined(); // dwell not over (since 1100, 3000 ms)
    expect(h.evaluate(4_100)).toEqual({
      state: TierState.DEGRADED,
      reason: "recovering: 3 consecutive successful attempts",
      previous: TierState.DOWN,
    });
    // The outage's errors are gone: the window is empty again and cannot push the tier back down.
    expect(h.sli(4_100).sampleCount).toBe(0);
    for (let i = 0; i < 10; i++) h.record(outcome(OutcomeStatus.OK), 4_200 + i);
    // Healthy once min_samples fresh outcomes are within the SLO and the dwell is over.
    expect(h.evaluate(4_300)).toBeUndefined();
    expect(h.evaluate(7_100)).toMatchObject({ state: TierState.HEALTHY, previous: TierState.DEGRADED });
  });

  it("degrades on TTFT p95 once there are min_samples, and clears with hysteresis", () => {
    const h = new TierHealth("gold", slo);
    for (let i = 0; i < 9; i++) h.record(outcome(OutcomeStatus.OK, 2_000), 1_000);
    expect(h.evaluate(1_000)).toBeUndefined(); // 9 < min_samples
    h.record(outcome(OutcomeStatus.OK, 2_000), 1_000);
    expect(h.evaluate(1_000)?.state).toBe(TierState.DEGRADED);
    expect(h.reason).toMatch(/^TTFT p95 20\d\d ms against SLO 800 ms$/);
    // Much later: window full of 700 ms TTFT, under the SLO but above the 640 ms exit line.
    for (let i = 0; i < 50; i++) h.record(outcome(OutcomeStatus.OK, 700), 30_000 + i);
    expect(h.evaluate(30_100)).toBeUndefined();
    for (let i = 0; i < 50; i++) h.record(outcome(OutcomeStatus.OK, 500), 50_000 + i);
    expect(h.evaluate(50_100)).toEqual({ state: TierState.HEALTHY, reason: "within SLO", previous: TierState.DEGRADED });
  });

  /** 5 simulated minutes at 20 requests/s, evaluated every 100 ms; TTFT uniform in 0.9 x SLO +-jitter, 1% errors. */
  function simulateNoisy(jitter: number, seed: number): { changes: string[]; final: TierState } {
    const h = new TierHealth("gold", slo);
    const random = mulberry32(seed);
    const changes: string[] = [];
    for (let now = 0; now < 5 * 60_000; now += 100) {
      for (let i = 0; i < 2; i++) {
        const failed = random() < 0.01;
        const ttft = Math.round(0.9 * slo.ttft_p95_ms * (1 + jitter * (2 * random() - 1)));
        h.record(outcome(failed ? OutcomeStatus.ERROR : OutcomeStatus.OK, ttft), now + i * 50);
      }
      const t = h.evaluate(now + 99);
      if (t) changes.push(`${now}ms ${TierState[t.previous]}->${TierState[t.state]}: ${t.reason}`);
    }
    return { changes, final: h.state };
  }

  it("noisy but healthy: TTFT p95 well under the SLO never changes state", () => {
    // +-10%: true p95 is about 0.98 x SLO.
    const { changes, final } = simulateNoisy(0.1, 20_240_601);
    expect(changes, changes.join("\n")).toEqual([]);
    expect(final).toBe(TierState.HEALTHY);
  });

  it("noisy at the line: a window p95 crossing the SLO again and again changes state at most once", () => {
    // +-12%: true p95 is about 0.997 x SLO, so the windowed p95 keeps crossing 800 ms; hysteresis must not flap.
    const { changes } = simulateNoisy(0.12, 1);
    expect(changes.length, changes.join("\n")).toBeLessThanOrEqual(1);
  });

  // Regression (fixed): successes recorded before the tier went down count toward its recovery. TierHealth keeps
  // `successes` across the transition to DOWN, so a tier taken down by its error rate right after
  // a few lucky successes "recovers" at the end of the dwell with no new outcome at all.
  it("only successes after going down count toward recovery", () => {
    const h = new TierHealth("gold", slo);
    for (let i = 0; i < 7; i++) h.record(outcome(OutcomeStatus.ERROR), 1_000);
    for (let i = 0; i < 3; i++) h.record(outcome(OutcomeStatus.OK), 1_000);
    expect(h.evaluate(1_000)?.state).toBe(TierState.DOWN); // 70% errors over 10 attempts
    // Nothing at all happens for the dwell time...
    expect(h.evaluate(4_000)).toBeUndefined(); // ...yet it recovers here
    expect(h.state).toBe(TierState.DOWN);
  });

  // Regression (fixed): a tier with a sustained 60% error rate flaps DOWN -> HEALTHY -> DEGRADED/DOWN every few
  // seconds and is reported HEALTHY part of the time. Leaving DOWN goes straight to HEALTHY on
  // `recovery_successes` successes in a row (frequent at 40% success) and TierHealth then clears the
  // window, throwing away the evidence that the tier is still failing.
  it("a tier failing 60% of requests for a minute stays down instead of flapping", () => {
    const h = new TierHealth("gold", { ...slo, consecutive_failures_down: 5 });
    const random = mulberry32(3);
    const changes: string[] = [];
    let healthyAfterDownMs = 0;
    let wentDown = false;
    for (let now = 0; now < 60_000; now += 100) {
      for (let i = 0; i < 2; i++) h.record(outcome(random() < 0.6 ? OutcomeStatus.ERROR : OutcomeStatus.OK), now + i * 50);
      const t = h.evaluate(now + 99);
      if (t) changes.push(`${now}ms ${TierState[t.previous]}->${TierState[t.state]}: ${t.reason}`);
      wentDown ||= h.state === TierState.DOWN;
      if (wentDown && h.state === TierState.HEALTHY) healthyAfterDownMs += 100;
    }
    // Before the fix: 30 changes and 6.5 s reported HEALTHY. Flap damping doubles what leaving
    // down takes each time, so the tier settles in DOWN and is never reported healthy.
    expect(changes.length, changes.join("\n")).toBeLessThanOrEqual(6);
    expect(
      changes.filter((c) => Number.parseInt(c, 10) >= 30_000),
      changes.join("\n"),
    ).toEqual([]);
    expect(h.state).toBe(TierState.DOWN);
    expect(healthyAfterDownMs).toBe(0);
  });

  it("stalls count as failures: a hung one-deployment tier goes down after consecutive_failures_down stalls", () => {
    const h = new TierHealth("gold", slo);
    h.record(attempt(OutcomeStatus.STALLED, 1_400, 400), 1_400);
    h.record(attempt(OutcomeStatus.STALLED, 1_420, 400), 1_420);
    expect(h.evaluate(1_430)).toBeUndefined();
    h.record(attempt(OutcomeStatus.STALLED, 1_440, 400), 1_440);
    expect(h.evaluate(1_450)).toEqual({ state: TierState.DOWN, reason: "3 consecutive failed attempts", previous: TierState.HEALTHY });
    expect(h.sli(1_450).timeoutRate).toBe(1);
  });

  it("a success streak never includes attempts that started before the last failure", () => {
    const h = new TierHealth("gold", slo);
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 1_000 + i, 5), 1_000 + i);
    expect(h.evaluate(1_010)?.state).toBe(TierState.DOWN);
    h.record(attempt(OutcomeStatus.ERROR, 5_000, 5), 5_000); // the last failed probe, started at 4995
    // Long requests caught in flight by the outage end well after it, successfully: no evidence.
    for (let i = 0; i < 5; i++) h.record(attempt(OutcomeStatus.OK, 5_100 + i, 2_000), 5_100 + i);
    expect(h.evaluate(5_200)).toBeUndefined();
    expect(h.state).toBe(TierState.DOWN);
    // Fresh probes, started after the last failure: three of them take it out of down.
    for (const end of [5_200, 5_400]) h.record(attempt(OutcomeStatus.OK, end, 100, true), end);
    expect(h.evaluate(5_450)).toBeUndefined();
    h.record(attempt(OutcomeStatus.OK, 5_600, 100, true), 5_600);
    expect(h.evaluate(5_600)).toMatchObject({ state: TierState.DEGRADED, previous: TierState.DOWN });
  });

  it("a hung probe timing out late does not undo the fresh successes that started after it", () => {
    const h = new TierHealth("gold", { ...slo, recovery_successes: 3 });
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 1_000 + i, 5), 1_000 + i);
    expect(h.evaluate(1_010)?.state).toBe(TierState.DOWN);
    // Traffic to another deployment succeeds from 5000; the probe started at 4900 hangs until 6500.
    for (const end of [5_200, 5_300]) h.record(attempt(OutcomeStatus.OK, end, 150), end);
    h.record(attempt(OutcomeStatus.TIMEOUT, 6_500, 1_600, true), 6_500);
    h.record(attempt(OutcomeStatus.OK, 6_600, 150), 6_600);
    expect(h.evaluate(6_600)).toMatchObject({ state: TierState.DEGRADED, reason: "recovering: 3 consecutive successful attempts" });
  });

  it("after leaving down, outcomes of attempts started during the outage are ignored", () => {
    const h = new TierHealth("gold", slo);
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 1_000 + i, 5), 1_000 + i);
    h.evaluate(1_010);
    h.record(attempt(OutcomeStatus.ERROR, 4_000, 5), 4_000);
    for (const end of [4_200, 4_400, 4_600]) h.record(attempt(OutcomeStatus.OK, end, 100, true), end);
    expect(h.evaluate(4_600)?.state).toBe(TierState.DEGRADED);
    // Requests that hung in the outage time out now: they neither count in the fresh window nor take it down again.
    for (let i = 0; i < 5; i++) h.record(attempt(OutcomeStatus.TIMEOUT, 4_700 + i, 2_000), 4_700 + i);
    expect(h.evaluate(4_800)).toBeUndefined();
    expect(h.sli(4_800).sampleCount).toBe(0);
    expect(h.sli(4_800).consecutiveFailures).toBe(0);
  });

  it("degraded after down clears to healthy on canary probes alone (the router may withhold traffic)", () => {
    const h = new TierHealth("gold", slo);
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 1_000 + i, 5), 1_000 + i);
    h.evaluate(1_010);
    let t = 4_000;
    for (; h.state === TierState.DOWN; t += 200) {
      h.record(attempt(OutcomeStatus.OK, t, 130, true), t);
      h.evaluate(t);
    }
    const degradedAt = t - 200;
    for (; h.state === TierState.DEGRADED && t < 20_000; t += 200) {
      h.record(attempt(OutcomeStatus.OK, t, 130, true), t);
      h.evaluate(t);
    }
    expect(h.state).toBe(TierState.HEALTHY);
    // min_dwell_ms, by which time min_samples probes (every 200 ms) are in.
    expect(t - 200 - degradedAt).toBe(slo.min_dwell_ms);
  });

  it("the outage's burned budget does not hold the recovered tier degraded (burn-rate alerts start afresh on leaving down)", () => {
    const withBurn: TierSloConfig = {
      ...slo,
      burn_alerts: [
        { long_window_ms: 60_000, short_window_ms: 5_000, rate: 14.4 },
        { long_window_ms: 300_000, short_window_ms: 30_000, rate: 6 },
      ],
    };
    const h = new TierHealth("gold", withBurn);
    let t = 1_000;
    for (let i = 0; i < 30; i++, t += 100) h.record(attempt(OutcomeStatus.OK, t, 130), t);
    for (let i = 0; i < 8; i++, t += 10) h.record(attempt(OutcomeStatus.ERROR, t, 5), t);
    expect(h.evaluate(t)?.state).toBe(TierState.DOWN);
    t += 3_000;
    for (; h.state === TierState.DOWN; t += 200) {
      h.record(attempt(OutcomeStatus.OK, t, 130, true), t);
      h.evaluate(t);
    }
    const degradedAt = t - 200;
    for (; h.state === TierState.DEGRADED && t < 60_000; t += 200) {
      h.record(attempt(OutcomeStatus.OK, t, 130, true), t);
      h.evaluate(t);
    }
    expect(h.state).toBe(TierState.HEALTHY);
    expect(t - 200 - degradedAt).toBe(withBurn.min_dwell_ms);
  });

  it("is recovering while down and while degraded since leaving down, not when degraded from healthy", () => {
    const h = new TierHealth("gold", slo);
    expect(h.recovering).toBe(false);
    for (let i = 0; i < 10; i++) h.record(attempt(i === 0 ? OutcomeStatus.ERROR : OutcomeStatus.OK, 1_000, 100), 1_000);
    expect(h.evaluate(1_000)?.state).toBe(TierState.DEGRADED); // 10% errors
    expect(h.recovering).toBe(false);
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 2_000 + i, 5), 2_000 + i);
    expect(h.evaluate(2_010)?.state).toBe(TierState.DOWN);
    expect(h.recovering).toBe(true);
    for (const end of [5_100, 5_200, 5_300]) h.record(attempt(OutcomeStatus.OK, end, 50, true), end);
    expect(h.evaluate(5_300)?.state).toBe(TierState.DEGRADED);
    expect(h.recovering).toBe(true);
    for (let i = 0; i < 10; i++) h.record(attempt(OutcomeStatus.OK, 5_400 + i, 50), 5_400 + i);
    expect(h.evaluate(8_300)?.state).toBe(TierState.HEALTHY);
    expect(h.recovering).toBe(false);
  });

  it("failures while down do not burn the budget that would hold the recovered tier degraded", () => {
    const burning = { ...slo, burn_alerts: [{ long_window_ms: 60_000, short_window_ms: 5_000, rate: 14.4 }] };
    const h = new TierHealth("gold", burning);
    // 10 s of clean traffic, then an outage: down at once, 6 s of failing probes every 200 ms.
    for (let t = 0; t < 10_000; t += 100) h.record(attempt(OutcomeStatus.OK, t, 100), t);
    for (let i = 0; i < 3; i++) h.record(attempt(OutcomeStatus.ERROR, 10_000 + i, 5), 10_000 + i);
    expect(h.evaluate(10_010)?.state).toBe(TierState.DOWN);
    for (let t = 10_200; t < 16_000; t += 200) h.record(attempt(OutcomeStatus.ERROR, t, 5, true), t);
    // Recovery on probes alone; healthy once the dwell is over, not held by the outage's burn.
    let t = 16_000;
    for (; t < 30_000 && h.state !== TierState.HEALTHY; t += 200) {
      h.record(attempt(OutcomeStatus.OK, t, 130, true), t);
      h.evaluate(t);
    }
    expect(h.reason).toBe("within SLO");
    expect(t - 200).toBeLessThanOrEqual(16_400 + burning.min_dwell_ms + 200);
  });
});

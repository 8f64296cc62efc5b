import { describe, expect, it } from "vitest";
import { computeReport, settledFrom } from "./report.js";
import type { Sample, TierObjectives, Timeline } from "./sample.js";

const gold: TierObjectives = { tier: "gold", sloTtftMs: 800, ttftTimeoutMs: 2_000, latencyTarget: 0.95, availabilityTarget: 0.99 };
const t: Timeline = { trafficStartAt: 0, faultStartAt: 1_000, faultEndAt: 3_000, trafficEndAt: 6_000 };

interface Shape {
  served?: string;
  ttft?: number;
  total?: number;
  tierAttempts?: number;
  failed?: string;
  user?: string;
  message?: string;
}

let seq = 0;
function sample(sentAt: number, s: Shape = {}): Sample {
  const ttft = s.ttft ?? 100;
  const total = s.total ?? ttft + 100;
  return {
    seq: seq++,
    user: s.user ?? "",
    scheduledAt: sentAt,
    sentAt,
    firstTokenAt: s.failed ? undefined : sentAt + ttft,
    endedAt: sentAt + total,
    ok: !s.failed,
    errorCode: s.failed ?? "",
    errorMessage: s.message ?? "",
    requestedTier: "gold",
    servedTier: s.failed ? "" : (s.served ?? "gold"),
    tierAttempts: s.failed ? 0 : (s.tierAttempts ?? 1),
    providerAttempts: 1,
    serverTtftMs: undefined,
  };
}
const every = (from: number, to: number, s: Shape = {}) => Array.from({ length: (to - from) / 100 }, (_, i) => sample(from + i * 100, s));

/** A down fault: gold fails fast, then hangs once, then the router routes around it; gold returns in steps. */
function downDrill(): Sample[] {
  return [
    ...every(0, 1_000),
    sample(1_000, { served: "silver", tierAttempts: 2, ttft: 300, total: 400 }), // rescued in-request, fast
    sample(1_100, { served: "silver", tierAttempts: 2, ttft: 2_100, total: 2_200 }), // waited for gold's TTFT timeout
    sample(1_200, { failed: "unavailable", total: 50, message: "gold and silver failed" }),
    sample(1_300, { served: "silver", tierAttempts: 2, ttft: 400, total: 500 }),
    ...every(1_400, 3_000, { served: "silver", ttft: 200, total: 300 }),
    ...every(3_000, 3_500, { served: "silver" }),
    sample(3_500),
    sample(3_600, { served: "silver" }),
    ...every(3_700, 6_000),
  ].reverse(); // arrival order is not send order
}

describe("computeReport", () => {
  const r = computeReport(downDrill(), t, gold);

  it("counts requests and failures by code", () => {
    expect(r.requests).toEqual({
      sent: 60,
      answered: 59,
      failed: 1,
      errors: { unavailable: 1 },
      errorExamples: { unavailable: "gold and silver failed" },
    });
  });

  it("splits phases by send time and counts served tiers per phase", () => {
    expect(r.phases.before).toMatchObject({
      fromMs: -1_000,
      toMs: 0,
      sent: 10,
      failed: 0,
      servedTiers: { gold: 10 },
      inRequestFallbacks: 0,
    });
    expect(r.phases.during).toMatchObject({
      fromMs: 0,
      toMs: 2_000,
      sent: 20,
      failed: 1,
      errors: { unavailable: 1 },
      servedTiers: { silver: 19 },
      inRequestFallbacks: 3,
    });
    expect(r.phases.after).toMatchObject({ fromMs: 2_000, toMs: 5_000, sent: 30, servedTiers: { gold: 24, silver: 6 } });
  });

  it("gives latency percentiles and the answers over the SLO TTFT and over the TTFT timeout", () => {
    const d = r.phases.during;
    // Nearest rank over 19 answers: p95 is the 19th, the slowest.
    expect(d.ttftMs).toEqual({ p50: 200, p95: 2_100, p99: 2_100, max: 2_100 });
    expect(d.totalMs).toEqual({ p50: 300, p95: 2_200, p99: 2_200, max: 2_200 });
    expect(d.ttftOverSlo).toEqual({ count: 1, share: 0.0526 });
    expect(d.ttftOverTimeout).toEqual({ count: 1, share: 0.0526 });
  });

  it("judges each phase against the tier's availability and latency targets", () => {
    expect(r.phases.before.slo).toEqual({ availability: 1, ttftWithinSlo: 1, met: true });
    expect(r.phases.during.slo).toEqual({ availability: 0.95, ttftWithinSlo: 0.9474, met: false });
    expect(r.sloMet).toBe(false);
  });

  it("times the reroute from fault start", () => {
    expect(r.reroute).toEqual({
      firstAnswerElsewhereMs: 400, // the request sent at the fault's start, answered by silver 400 ms later
      routedAroundMs: 400, // from the request sent at +400 ms on, none tried gold first
      noWaitMs: 300, // the failed (+200) and the 2.1 s (+100) ones were the last to wait for gold
    });
  });

  it("times the return from fault end", () => {
    expect(r.return).toEqual({ firstBackMs: 500, allBackMs: 700 });
  });
});

describe("computeReport edge cases", () => {
  it("reports 0 when nothing ever waited and null when the fault never settled", () => {
    const calm = [...every(0, 1_000), ...every(1_000, 3_000, { served: "silver" }), ...every(3_000, 4_000)];
    expect(computeReport(calm, t, gold).reroute).toEqual({ firstAnswerElsewhereMs: 200, routedAroundMs: 0, noWaitMs: 0 });
    expect(computeReport(calm, t, gold).return).toEqual({ firstBackMs: 0, allBackMs: 0 });

    const slow = [...every(0, 1_000), ...every(1_000, 3_000, { ttft: 2_500 }), ...every(3_000, 4_000, { served: "silver" })];
    const s = computeReport(slow, t, gold);
    expect(s.reroute).toEqual({ firstAnswerElsewhereMs: 2_200, routedAroundMs: null, noWaitMs: null });
    expect(s.return).toEqual({ firstBackMs: null, allBackMs: null });
    expect(s.phases.during.ttftOverTimeout).toEqual({ count: 20, share: 1 });
  });

  it("handles a drill cut short before the fault", () => {
    const cut: Timeline = { trafficStartAt: 0, faultStartAt: 500, faultEndAt: 500, trafficEndAt: 500 };
    const r = computeReport(every(0, 500), cut, gold);
    expect(r.phases.during).toMatchObject({ sent: 0, ttftMs: null, slo: { availability: null, ttftWithinSlo: null, met: null } });
    expect(r.reroute).toEqual({ firstAnswerElsewhereMs: null, routedAroundMs: null, noWaitMs: null });
    expect(r.sloMet).toBe(true);
  });
});

describe("settledFrom", () => {
  const ok = (s: Sample) => s.ok;
  const run = [sample(0, { failed: "x" }), sample(100), sample(200, { failed: "x" }), ...every(300, 2_000)];
  it("is the send time after the last bad sample", () => {
    expect(settledFrom(run, ok, 0, 2_000)).toBe(300);
    expect(settledFrom([sample(0), sample(100, { failed: "x" })], ok, 0, 2_000)).toBeNull();
    expect(settledFrom([], ok, 0, 2_000)).toBeNull();
  });
  it("does not call a clean run in the window's last moments settled", () => {
    // 1.7 s clean of a 2 s window counts; 0.8 s clean at the end of a 10 s window does not (needs 1 s).
    expect(settledFrom([...run.slice(0, 3), ...every(300, 1_000)], ok, 0, 2_000)).toBe(300);
    expect(settledFrom([sample(0), sample(9_100, { failed: "x" }), sample(9_200)], ok, 0, 10_000)).toBeNull();
    // A short window needs only a quarter of it.
    expect(settledFrom([sample(0, { failed: "x" }), sample(300)], ok, 0, 800)).toBe(300);
  });
});

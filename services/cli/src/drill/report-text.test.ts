import { describe, expect, it } from "vitest";
import { computeReport } from "./report.js";
import { formatReport } from "./report-text.js";
import type { DrillReport } from "./run-drill.js";
import type { Sample, TierObjectives } from "./sample.js";

const gold: TierObjectives = { tier: "gold", sloTtftMs: 800, ttftTimeoutMs: 2_000, latencyTarget: 0.95, availabilityTarget: 0.99 };

function sample(seq: number, served: string, failed = ""): Sample {
  const sentAt = seq * 100;
  return {
    seq,
    user: seq % 4 === 3 ? "" : `u${seq % 2}`,
    scheduledAt: sentAt,
    sentAt,
    firstTokenAt: failed ? undefined : sentAt + 50,
    endedAt: sentAt + 80,
    ok: !failed,
    errorCode: failed,
    errorMessage: failed ? "no tier could answer" : "",
    requestedTier: "gold",
    servedTier: failed ? "" : served,
    tierAttempts: 1,
    providerAttempts: 1,
    serverTtftMs: 40,
  };
}

function report(): DrillReport {
  const samples = Array.from({ length: 40 }, (_, i) =>
    i === 12 ? sample(i, "", "unavailable") : sample(i, i >= 10 && i < 25 ? "silver" : "gold"),
  );
  const figures = computeReport(samples, { trafficStartAt: 0, faultStartAt: 1_000, faultEndAt: 2_000, trafficEndAt: 4_000 }, gold);
  return {
    drill: {
      config: "c.yaml",
      routerUrl: "http://127.0.0.1:7400",
      simulatorUrl: "http://127.0.0.1:7490",
      tier: "gold",
      deployment: "sim/sim-gold",
      model: "sim-gold",
      fault: { kind: "down", patch: { outage: true } },
      ratePerSecond: 10,
      beforeMs: 1_000,
      durationMs: 1_000,
      afterMs: 2_000,
      tenant: "demo",
      urgency: "interactive",
      tierHint: "",
      users: 2,
      startedAt: "2026-11-26T00:00:00.000Z",
    },
    slo: { sloTtftMs: 800, ttftTimeoutMs: 2_000, latencyTarget: 0.95, availabilityTarget: 0.99 },
    ...figures,
    restored: true,
    adminAckMs: { fault: 3, restore: 2 },
    eventLoopDelayMs: { p50: 10, p99: 12, max: 15 },
    interrupted: false,
    warnings: [],
  };
}

describe("formatReport", () => {
  it("prints the headline, one row per phase, reroute and return times, and each user's tier path", () => {
    const text = formatReport(report());
    expect(text).toMatch(/^tiermesh drill: down on gold \(deployment sim\/sim-gold, model sim-gold\) for 1\.0 s, 10 req\/s\n/);
    expect(text).toContain("requests: 40 sent, 39 answered, 1 failed (unavailable 1)");
    expect(text).toMatch(/\n {2}before +-1\.0 s\.\.0\.0 s +10 +0 +gold 10 /);
    expect(text).toMatch(/\n {2}during +0\.0 s\.\.1\.0 s +10 +1 +silver 9 .* MISSED\n/);
    expect(text).toContain("  e.g. unavailable: no tier could answer");
    expect(text).toContain("  first answer from another tier         +0.08 s");
    expect(text).toContain("  all requests served by gold            +0.50 s");
    expect(text).toMatch(/\n {2}u0 +20 req, 1 failed {2}gold → silver @\+0\.00 s → gold @\+1\.60 s\n/);
    expect(text).toMatch(/\n {2}\(no user id\) +10 req {2}gold → silver @\+0\.10 s → gold @\+1\.70 s\n/);
    expect(text).toContain("sim-gold's profile restored");
  });

  it("says when the drill was cut short or the profile could not be restored", () => {
    const text = formatReport({ ...report(), interrupted: true, restored: false, warnings: ["could not restore sim-gold: HTTP 500"] });
    expect(text).toContain("[INTERRUPTED]");
    expect(text).toContain("WARNING: sim-gold's profile was NOT restored");
    expect(text).toContain("warning: could not restore sim-gold: HTTP 500");
  });
});

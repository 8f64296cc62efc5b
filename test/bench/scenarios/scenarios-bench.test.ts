// The scenario bench's pure parts: the trace is reproducible, entitlement follows the
// production rules, and reroute/return times are read correctly from request records.
import { describe, expect, it } from "vitest";
// @ts-expect-error plain ES module without types
import { incidentImpact, summarize } from "./metrics.mjs";
// @ts-expect-error plain ES module without types
import { entitlement } from "./policies.mjs";
// @ts-expect-error plain ES module without types
import { generateTrace } from "./trace.mjs";

const facts = { gold: { sloMs: 800, rank: 3 }, silver: { sloMs: 1_500, rank: 2 }, bronze: { sloMs: 5_000, rank: 1 } };

interface Rec {
  startMs: number;
  entitled: string;
  home: string;
  served: string;
  ttftMs: number;
  code: string;
  user: string;
  costUsd: number;
}

const rec = (startMs: number, served: string, ttftMs = 100, code = ""): Rec => ({
  startMs,
  entitled: "gold",
  home: "gold",
  served: code ? "" : served,
  ttftMs,
  code,
  user: `u${startMs % 3}`,
  costUsd: served === "gold" ? 0.001 : 0.0002,
});

describe("scenario bench", () => {
  it("generates the same trace for the same seed, with a peak in the middle", () => {
    const a = generateTrace({ seed: 7, seconds: 60, low: 5, peak: 20 });
    const b = generateTrace({ seed: 7, seconds: 60, low: 5, peak: 20 });
    expect(a).toEqual(b);
    const inRange = (from: number, to: number) => a.filter((r: { atMs: number }) => r.atMs >= from && r.atMs < to).length;
    expect(inRange(25_000, 35_000)).toBeGreaterThan(inRange(0, 10_000) * 1.8);
  });

  it("entitles requests as the production classifier would", () => {
    const raw = {
      tiers: { gold: { rank: 3 }, silver: { rank: 2 }, bronze: { rank: 1 } },
      classifier: {
        rules: [
          { when: { urgencies: ["batch"] }, tier: "bronze" },
          { when: { plans: ["free"], urgencies: ["interactive"] }, tier: "silver" },
        ],
      },
      plans: {
        enterprise: { default_tier: "gold", max_tier: "gold", min_tier: "silver" },
        pro: { default_tier: "silver", max_tier: "gold" },
        free: { default_tier: "bronze", max_tier: "silver" },
      },
    };
    const tier = entitlement(raw);
    expect(tier("enterprise", "interactive")).toBe("gold");
    expect(tier("enterprise", "batch")).toBe("silver");
    expect(tier("pro", "interactive")).toBe("silver");
    expect(tier("free", "interactive")).toBe("silver");
    expect(tier("free", "batch")).toBe("bronze");
  });

  it("times reroute from the incident start and return from its end", () => {
    const records = [
      rec(500, "gold"),
      rec(1_000, "gold", 2_000), // slow: first affected request
      rec(1_400, "silver"), // first served elsewhere
      rec(3_000, "silver"),
      rec(5_200, "gold"), // first back after the end (5 s)
      rec(5_600, "silver"), // a sticky user still away
      rec(6_100, "gold"), // the last to come back
      rec(7_000, "gold"),
    ];
    const inc = { id: "x", label: "x", tier: "gold", appliedMs: 1_000, revertedMs: 5_000 };
    const r = incidentImpact(records, facts, inc, 10_000);
    expect(r.requests).toBe(3);
    expect(r.rerouteMs).toBe(400);
    expect(r.rerouteHow).toBe("served elsewhere");
    expect(r.returnFirstMs).toBe(200);
    expect(r.returnLastMs).toBe(1_100);
    expect(r.failed).toBe(0);
  });

  it("falls back on 'meets the SLO again' when nothing moved, and says so when nothing was hit", () => {
    const slow = [rec(1_000, "gold", 2_000, ""), rec(1_100, "gold", 0, "Unavailable")];
    const fine = [1_300, 1_400, 1_500, 1_600, 1_700].map((t) => rec(t, "gold"));
    const inc = { id: "x", label: "x", tier: "gold", appliedMs: 900, revertedMs: 2_000 };
    const r = incidentImpact([...slow, ...fine], facts, inc, 5_000);
    expect(r.rerouteMs).toBe(400);
    expect(r.rerouteHow).toBe("meets SLO again");
    expect(r.returnNote).toBe("never moved");
    expect(r.failed).toBe(1);
    const quiet = incidentImpact(fine, facts, { ...inc, appliedMs: 1_200 }, 5_000);
    expect(quiet.rerouteHow).toBe("no impact");
  });

  it("summarizes SLO attainment, entitlement, failures and tier changes per user", () => {
    const records = [rec(0, "gold"), rec(1, "silver"), rec(2, "gold", 900), rec(3, "gold", 0, "DeadlineExceeded"), rec(4, "gold")];
    const s = summarize(records, facts);
    expect(s.gold.requests).toBe(5);
    // The silver-served one met gold's SLO; 900 ms and the failure did not.
    expect(s.gold.sloMet).toBeCloseTo(3 / 5);
    expect(s.gold.atEntitled).toBeCloseTo(3 / 5);
    expect(s.gold.belowEntitled).toBeCloseTo(1 / 5);
    expect(s.gold.failed).toBe(1);
    // u0: 0 gold, 3 failed → no change; u1: 1 silver, 4 gold → 1; u2: 2 gold → 0.
    expect(s.gold.tierChangesPerUser).toBeCloseTo(1 / 3);
  });
});

import { create } from "@bufbuild/protobuf";
import { TierLadder } from "@tiermesh/config";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { TrafficLedger } from "./traffic-ledger.js";

const ladder = new TierLadder({ gold: { rank: 3 }, silver: { rank: 2 }, bronze: { rank: 1 } });
const outcome = (tier: string, requestedTier: string, extra: { status?: OutcomeStatus; costUsd?: number; probe?: boolean } = {}) =>
  create(OutcomeSchema, {
    tier,
    requestedTier,
    status: extra.status ?? OutcomeStatus.OK,
    costUsd: extra.costUsd ?? 0,
    probe: extra.probe ?? false,
  });

/** Records `n` outcomes in the second starting at `atMs`. */
function recordMany(ledger: TrafficLedger, atMs: number, n: number, make: () => ReturnType<typeof outcome>): void {
  for (let i = 0; i < n; i++) ledger.record(make(), atMs + i);
}

describe("TrafficLedger", () => {
  it("splits answers by requested and served tier, and names promotions and fallbacks by rank", () => {
    const ledger = new TrafficLedger(ladder);
    recordMany(ledger, 10_000, 6, () => outcome("gold", "gold"));
    recordMany(ledger, 10_000, 3, () => outcome("silver", "gold"));
    recordMany(ledger, 11_000, 4, () => outcome("gold", "silver"));
    recordMany(ledger, 11_000, 2, () => outcome("bronze", ""));

    const summary = ledger.summary(ledger.totals(12_500, 2));
    expect(summary.flows).toEqual([
      { requested: "gold", served: "gold", kind: "own", perSecond: 3 },
      { requested: "gold", served: "silver", kind: "fallback", perSecond: 1.5 },
      { requested: "silver", served: "gold", kind: "promotion", perSecond: 2 },
      { requested: "bronze", served: "bronze", kind: "own", perSecond: 1 },
    ]);
    expect(summary).toMatchObject({ windowMs: 2_000, servedPerSecond: 7.5, promotionsPerSecond: 2, fallbacksPerSecond: 1.5 });
  });

  it("counts cost of every user attempt by the tier that made it, answers only for OK outcomes, and nothing of probes", () => {
    const ledger = new TrafficLedger(ladder);
    ledger.record(outcome("gold", "gold", { costUsd: 0.02 }), 20_000);
    ledger.record(outcome("gold", "gold", { status: OutcomeStatus.ERROR, costUsd: 0.01 }), 20_100);
    ledger.record(outcome("gold", "gold", { status: OutcomeStatus.RATE_LIMITED }), 20_200);
    ledger.record(outcome("gold", "", { costUsd: 5, probe: true }), 20_300);
    ledger.record(outcome("unknown", "gold", { costUsd: 5 }), 20_400);

    const totals = ledger.totals(21_000, 1);
    expect(totals.servedByTier).toEqual(new Map([["gold", 1]]));
    expect(totals.costByTier.get("gold")).toBeCloseTo(0.03, 12);
    expect(ledger.summary(totals).costUsdPerMinute).toBeCloseTo(1.8, 12);
  });

  it("reads whole seconds only: the second under way and seconds older than the window are left out", () => {
    const ledger = new TrafficLedger(ladder, 5);
    recordMany(ledger, 1_000, 10, () => outcome("gold", "gold"));
    recordMany(ledger, 4_000, 4, () => outcome("gold", "gold"));
    recordMany(ledger, 5_000, 7, () => outcome("gold", "gold"));

    expect(ledger.totals(5_500, 1).servedByTier.get("gold")).toBe(4);
    expect(ledger.totals(5_500, 3).servedByTier.get("gold")).toBe(4);
    expect(ledger.totals(5_500, 5).servedByTier.get("gold")).toBe(14);
    // Keeping 5 seconds, second 6 takes second 1's slot: second 1 is gone even where a read reaches it.
    recordMany(ledger, 6_000, 1, () => outcome("gold", "gold"));
    expect(ledger.totals(6_500, 5).servedByTier.get("gold")).toBe(11);
  });
});

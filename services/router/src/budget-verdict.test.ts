import type { TenantBudget } from "@tiermesh/config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { budgetVerdict } from "./budget-verdict.js";

const budget = (over: Partial<TenantBudget> = {}): TenantBudget => ({
  tenant: "acme",
  plan: "pro",
  source: "plan",
  monthly_usd: 100,
  pacing: [
    { at: 0.9, max_tier: "silver" },
    { at: 0.95, max_tier: "bronze" },
  ],
  stop_promotions_at: 0.8,
  on_exhausted: "refuse",
  ...over,
});
const period = { month: "2026-11", day: "2026-11-26" };
const spent = (monthUsd: number, dayUsd = 0) => ({ monthUsd, dayUsd });

describe("budgetVerdict", () => {
  it("lets everything through below the first threshold", () => {
    const v = budgetVerdict(budget(), spent(79.99), period);
    expect(v.used).toBeCloseTo(0.7999, 9);
    expect([v.refuse, v.maxTier, v.noPromotion]).toEqual([undefined, undefined, undefined]);
  });

  it("stops promotions, then steps tiers down, then refuses naming the budget", () => {
    expect(budgetVerdict(budget(), spent(80), period)).toEqual({
      used: 0.8,
      noPromotion: "tenant acme has spent $80.00 (80%) of plan pro's monthly budget of $100.00 for 2026-11; no promotions from 80%",
    });
    expect(budgetVerdict(budget(), spent(91), period).maxTier).toEqual({
      tier: "silver",
      why: "budget pacing: tenant acme has spent $91.00 (91%) of plan pro's monthly budget of $100.00 for 2026-11; served at silver at most from 90%",
    });
    expect(budgetVerdict(budget(), spent(96), period).maxTier?.tier).toBe("bronze");
    expect(budgetVerdict(budget(), spent(100), period).refuse).toEqual({
      message: "budget exhausted: tenant acme has spent $100.00 (100%) of plan pro's monthly budget of $100.00 for 2026-11",
      period: "month",
    });
  });

  it("counts the daily budget when it is the nearer one, and names a tenant's own budget", () => {
    const v = budgetVerdict(budget({ daily_usd: 10, source: "tenant" }), spent(20, 10.5), period);
    expect(v.refuse).toEqual({
      message: "budget exhausted: tenant acme has spent $10.50 (105%) of tenant acme's daily budget of $10.00 for 2026-11-26",
      period: "day",
    });
  });

  it("with on_exhausted: serve, keeps serving without promotions (the older monthly_budget_usd)", () => {
    const v = budgetVerdict(budget({ on_exhausted: "serve", pacing: [], stop_promotions_at: 1 }), spent(120), period);
    expect(v.refuse).toBeUndefined();
    expect(v.noPromotion).toBe("tenant acme has spent $120.00 (120%) of plan pro's monthly budget of $100.00 for 2026-11");
  });
});

describe("budgetVerdict, for any budget and spend", () => {
  const rank: Record<string, number> = { bronze: 1, silver: 2, gold: 3 };
  const budgets = fc.record({
    monthly: fc.double({ min: 1, max: 10_000, noNaN: true }),
    stop: fc.double({ min: 0, max: 1, noNaN: true }),
    steps: fc.array(
      fc.record({ at: fc.double({ min: 0.01, max: 0.99, noNaN: true }), max_tier: fc.constantFrom("bronze", "silver", "gold") }),
      { maxLength: 3 },
    ),
  });

  it("never loosens as spend grows: refusal stays, promotions stay stopped, the tier cap only falls", () => {
    fc.assert(
      fc.property(budgets, fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }), (b, x, y) => {
        // Pacing steps as a plan would write them: later steps cap lower.
        const steps = [...b.steps]
          .sort((p, q) => p.at - q.at)
          .map((s, i, all) => ({
            at: s.at,
            max_tier: all.slice(0, i + 1).reduce((lo, t) => (rank[t.max_tier]! < rank[lo]! ? t.max_tier : lo), "gold"),
          }));
        const tb = budget({ monthly_usd: b.monthly, stop_promotions_at: b.stop, pacing: steps });
        const [lo, hi] = x <= y ? [x, y] : [y, x];
        const a = budgetVerdict(tb, spent(lo * b.monthly), period);
        const z = budgetVerdict(tb, spent(hi * b.monthly), period);
        if (a.refuse) expect(z.refuse).toBeDefined();
        if (a.noPromotion) expect(z.noPromotion).toBeDefined();
        if (!z.refuse && a.maxTier) expect(rank[z.maxTier?.tier ?? "gold"]!).toBeLessThanOrEqual(rank[a.maxTier.tier]!);
        if (hi >= 1) expect(z.refuse).toBeDefined();
      }),
    );
  });
});

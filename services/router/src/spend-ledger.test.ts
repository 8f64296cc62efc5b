import { parseConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { SpendLedger } from "./spend-ledger.js";

const config = parseConfig(
  `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold: { rank: 1, executor: { listen: "127.0.0.1:5" }, models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans:
  capped: { default_tier: gold, max_tier: gold, limits: { monthly_budget_usd: 1 } }
  open: { default_tier: gold, max_tier: gold }
tenants: { a: { plan: capped }, b: { plan: open } }
`,
  "t.yaml",
  {},
);

describe("SpendLedger", () => {
  it("says a tenant is over budget once its month-to-date spend reaches the plan's budget", () => {
    const ledger = new SpendLedger(() => config);
    const nov = new Date("2026-11-25T12:00:00Z");
    ledger.add("a", 0.6, nov);
    expect(ledger.overBudget("a", nov)).toBeUndefined();
    ledger.add("a", 0.4, nov);
    expect(ledger.overBudget("a", nov)).toBe("tenant a has spent $1.00 of its $1 monthly budget");
    // A new month starts from zero.
    expect(ledger.overBudget("a", new Date("2026-12-01T00:00:00Z"))).toBeUndefined();
  });

  it("never limits a plan without a budget, or an unknown tenant", () => {
    const ledger = new SpendLedger(() => config);
    ledger.add("b", 1_000);
    expect(ledger.overBudget("b")).toBeUndefined();
    expect(ledger.overBudget("constructor")).toBeUndefined();
  });

  it("lists every configured tenant's spend this month and its plan's budget", () => {
    const ledger = new SpendLedger(() => config);
    const nov = new Date("2026-11-25T12:00:00Z");
    ledger.add("a", 0.25, nov);
    expect(ledger.tenants(nov)).toEqual([
      { tenant: "a", spentUsd: 0.25, budgetUsd: 1 },
      { tenant: "b", spentUsd: 0, budgetUsd: undefined },
    ]);
  });
});

import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { parseConfig } from "./load-config.js";
import { tenantBudget } from "./tenant-budget.js";

const head = `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold: { rank: 2, fallback: silver, executor: { listen: "127.0.0.1:5" }, models: [{ provider: p, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
  silver: { rank: 1, executor: { listen: "127.0.0.1:6" }, models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
`;
const parse = (rest: string) => parseConfig(head + rest, "t.yaml", {});

describe("tenantBudget", () => {
  it("merges a tenant's override over its plan's budget, pacing sorted", () => {
    const config = parse(`
plans:
  pro:
    default_tier: gold
    max_tier: gold
    budget: { monthly_usd: 100, daily_usd: 10, stop_promotions_at: 0.8, pacing: [{ at: 0.95, max_tier: silver }, { at: 0.9, max_tier: gold }] }
tenants:
  a: { plan: pro }
  b: { plan: pro, budget: { monthly_usd: 500, on_exhausted: serve } }
`);
    expect(tenantBudget(config, "a")).toEqual({
      tenant: "a",
      plan: "pro",
      source: "plan",
      monthly_usd: 100,
      daily_usd: 10,
      stop_promotions_at: 0.8,
      on_exhausted: "refuse",
      pacing: [
        { at: 0.9, max_tier: "gold" },
        { at: 0.95, max_tier: "silver" },
      ],
    });
    expect(tenantBudget(config, "b")).toMatchObject({ source: "tenant", monthly_usd: 500, daily_usd: 10, on_exhausted: "serve" });
    expect(tenantBudget(config, "constructor")).toBeUndefined();
  });

  it("reads the older limits.monthly_budget_usd as a budget that only stops promotions", () => {
    const config = parse(`
plans:
  capped: { default_tier: gold, max_tier: gold, limits: { monthly_budget_usd: 1 } }
  open: { default_tier: gold, max_tier: gold }
tenants: { a: { plan: capped }, b: { plan: open } }
`);
    expect(tenantBudget(config, "a")).toEqual({
      tenant: "a",
      plan: "capped",
      source: "plan",
      monthly_usd: 1,
      pacing: [],
      stop_promotions_at: 1,
      on_exhausted: "serve",
    });
    expect(tenantBudget(config, "b")).toBeUndefined();
    // The plan as parsed parses again unchanged (the classifier republishes plans).
    expect("monthly_budget_usd" in config.plans["capped"]!.limits).toBe(false);
  });

  it("refuses both names at once, and pacing to an unknown tier, naming the field", () => {
    const both = () =>
      parse(`
plans: { p: { default_tier: gold, max_tier: gold, limits: { monthly_budget_usd: 1 }, budget: { monthly_usd: 2 } } }
`);
    expect(both).toThrow(ConfigError);
    expect(both).toThrow(/plans\.p\.limits\.monthly_budget_usd/);
    const unknown = () =>
      parse(`
plans: { p: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 2, pacing: [{ at: 0.5, max_tier: tin }] } } }
tenants: { t: { plan: p, budget: { pacing: [{ at: 1.5, max_tier: silver }] } } }
`);
    expect(unknown).toThrow(/plans\.p\.budget\.pacing\.0\.max_tier/);
    expect(unknown).toThrow(/tenants\.t\.budget\.pacing\.0\.at/);
  });
});

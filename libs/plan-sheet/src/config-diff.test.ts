import { readFileSync } from "node:fs";
import { parseConfig, type Config } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { configDiff, renderDiff } from "./config-diff.js";

const exampleText = readFileSync(new URL("../../../deploy/tiermesh.example.yaml", import.meta.url), "utf8");
const example = parseConfig(exampleText, "tiermesh.example.yaml", {});

function edited(edit: (raw: Record<string, any>) => void): Config {
  const raw = parse(exampleText) as Record<string, any>;
  edit(raw);
  return parseConfig(stringify(raw), "edited.yaml", {});
}

const subjects = (before: Config, after: Config) => Object.fromEntries(configDiff(before, after).map((s) => [s.subject, s.changes]));

describe("config diff", () => {
  it("finds nothing between a config and itself, nor in what customers cannot see", () => {
    expect(configDiff(example, example)).toEqual([]);
    const internal = edited((raw) => {
      raw.tiers.gold.timeouts.attempt_ms = 12_000;
      raw.tiers.gold.breaker = { open_ms: 9_000 };
      raw.router.listen = "127.0.0.1:8400";
      raw.health_monitor.probe.interval_ms = 500;
    });
    expect(configDiff(example, internal)).toEqual([]);
    expect(renderDiff([])).toBe("no change a customer can see\n");
  });

  it("names the plan's tenants for a change of ceiling, floor or default tier", () => {
    const after = edited((raw) => {
      raw.plans.enterprise.max_tier = "silver";
      raw.plans.enterprise.default_tier = "silver";
      raw.plans.enterprise.min_tier = "bronze";
    });
    const changes = subjects(example, after)["plan enterprise (tenants: demo)"];
    expect(changes).toEqual(
      expect.arrayContaining([
        "tiers: silver to gold → bronze to silver",
        "ceiling: gold → silver",
        "floor: silver → bronze",
        "default tier: gold → silver",
        "tier gold: no longer used for this plan",
        expect.stringMatching(
          /^tier bronze: now used for this plan \(95% of answers start within 5 s; 99% of attempts succeed; models sim-bronze-small \(sim\)/,
        ),
      ]),
    );
  });

  it("reports SLO, pool and price changes to every plan that uses the tier", () => {
    const after = edited((raw) => {
      raw.tiers.silver.slo.ttft_p95_ms = 1_200;
      raw.tiers.silver.models[0].price.output_per_mtok = 4;
      raw.tiers.silver.models.push({ provider: "sim", model: "sim-silver-large", price: { input_per_mtok: 2, output_per_mtok: 6 } });
    });
    const s = subjects(example, after);
    expect(Object.keys(s)).toEqual(["plan enterprise (tenants: demo)", "plan pro (tenants: none)", "plan free (tenants: trial)"]);
    expect(s["plan pro (tenants: none)"]).toEqual([
      "tier silver: time to first token: 95% of answers start within 1.5 s → 95% of answers start within 1.2 s",
      "tier silver: model sim-silver-medium (sim): sim-silver-medium (sim): $1.00 in / $3.00 out per 1M tokens, 32,000-token context → sim-silver-medium (sim): $1.00 in / $4.00 out per 1M tokens, 32,000-token context",
      "tier silver: model sim-silver-large (sim): now sim-silver-large (sim): $2.00 in / $6.00 out per 1M tokens",
    ]);
  });

  it("reports limits and budgets, and a tenant's own limits and change of plan under the tenant", () => {
    const before = edited((raw) => {
      raw.tenants.acme = { plan: "pro" };
      raw.tenants.beta = { plan: "free" };
    });
    const after = edited((raw) => {
      raw.plans.pro.limits.requests_per_minute = 900;
      raw.plans.pro.budget.monthly_usd = 800;
      raw.tenants.acme = { plan: "pro", limits: { tokens_per_minute: 500_000 } };
      raw.tenants.beta = { plan: "pro" };
    });
    const s = subjects(before, after);
    expect(s["plan pro (tenants: acme, beta)"]).toEqual([
      "requests per minute: 600 requests per minute → 900 requests per minute",
      expect.stringMatching(/^budget: \$500\.00 a month and \$50\.00 a day .* → \$800\.00 a month and \$50\.00 a day /),
    ]);
    // The plan's own changes are said once, under the plan; the tenant's own limit under the tenant.
    expect(s["tenant acme"]).toEqual(["tokens per minute: 200,000 tokens per minute → 500,000 tokens per minute (the tenant's own limit)"]);
    expect(s["tenant beta"]).toEqual(
      expect.arrayContaining([
        "plan: free → pro",
        "ceiling: silver → gold",
        "requests per minute: 20 requests per minute → 900 requests per minute",
      ]),
    );
  });

  it("lists tiers, plans and tenants added and removed", () => {
    const after = edited((raw) => {
      raw.tiers.platinum = { ...raw.tiers.gold, rank: 4, executor: { listen: "127.0.0.1:7413" } };
      delete raw.plans.free;
      raw.tenants.trial.plan = "pro";
      delete raw.classifier.rules[1];
      raw.classifier.rules = raw.classifier.rules.filter(Boolean);
      raw.plans.team = { default_tier: "silver", max_tier: "platinum" };
      raw.tenants.acme = { plan: "team" };
    });
    expect(subjects(example, after)["tiers, plans and tenants"]).toEqual([
      "tier platinum added",
      "plan team added (tenants: acme)",
      "plan free removed (its tenants were: trial)",
      "tenant acme added, on plan team",
    ]);
  });
});

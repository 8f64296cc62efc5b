import { parseConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { decodePolicy, encodePolicy, policyDocument } from "./policy-document.js";

describe("policyDocument", () => {
  it("leaves budgets out (routers read them from their own config), so earlier routers accept it", () => {
    const config = parseConfig(
      `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers: { gold: { rank: 1, executor: { listen: "127.0.0.1:5" }, models: [{ provider: p, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] } }
plans:
  pro: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 10 } }
  old: { default_tier: gold, max_tier: gold, limits: { monthly_budget_usd: 5 } }
`,
      "t.yaml",
      {},
    );
    const { json } = encodePolicy(policyDocument(config));
    expect(json).not.toContain("budget");
    expect(Object.keys(decodePolicy(json).plans)).toEqual(["pro", "old"]);
  });
});

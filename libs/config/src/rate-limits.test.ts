import { describe, expect, it } from "vitest";
import { parseConfig } from "./load-config.js";
import { hasRateLimits, rateLimitsOf } from "./rate-limits.js";

const PLANS = `
  pro: { default_tier: gold, max_tier: gold, limits: { requests_per_minute: 600, tokens_per_minute: 100000, output_tokens_estimate: 300 } }
  open: { default_tier: gold, max_tier: gold }`;

const config = (tenants: string, plans = PLANS) =>
  parseConfig(
    `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 1, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: ${plans}
tenants: ${tenants}
`,
    "t.yaml",
    {},
  );

describe("rateLimitsOf", () => {
  it("takes the plan's limits, each replaced by the tenant's own where it sets one", () => {
    const c = config("{ acme: { plan: pro }, beta: { plan: pro, limits: { requests_per_minute: 1200 } }, free: { plan: open } }");
    expect(rateLimitsOf(c, "acme")).toEqual({ requestsPerMinute: 600, tokensPerMinute: 100_000, outputTokensEstimate: 300 });
    expect(rateLimitsOf(c, "beta")).toEqual({ requestsPerMinute: 1_200, tokensPerMinute: 100_000, outputTokensEstimate: 300 });
    expect(rateLimitsOf(c, "free")).toEqual({ requestsPerMinute: undefined, tokensPerMinute: undefined, outputTokensEstimate: undefined });
    expect(rateLimitsOf(c, "constructor")).toBeUndefined();
  });

  it("refuses an unknown or invalid limit with its path", () => {
    expect(() => config("{ acme: { plan: pro, limits: { requests_per_minute: 0 } } }")).toThrow(
      /tenants\.acme\.limits\.requests_per_minute: /,
    );
    expect(() => config("{ acme: { plan: pro, limits: { max_prompt_tokens: 10 } } }")).toThrow(
      /tenants\.acme\.limits: Unrecognized key: "max_prompt_tokens"/,
    );
  });
});

describe("hasRateLimits", () => {
  const unlimited = `
  open: { default_tier: gold, max_tier: gold }
  estimated: { default_tier: gold, max_tier: gold, limits: { output_tokens_estimate: 300 } }`;

  it("is true when a plan or a tenant sets a request or token limit", () => {
    expect(hasRateLimits(config("{ acme: { plan: pro } }"))).toBe(true);
    expect(hasRateLimits(config("{ acme: { plan: open, limits: { tokens_per_minute: 5000 } } }", unlimited))).toBe(true);
  });

  it("is false when none does (an output token estimate alone limits nothing)", () => {
    expect(hasRateLimits(config("{ acme: { plan: open }, beta: { plan: estimated } }", unlimited))).toBe(false);
  });
});

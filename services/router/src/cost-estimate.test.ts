import { parseConfig, TierLadder } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { estimateCostUsd } from "./cost-estimate.js";

const config = parseConfig(
  `
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3" }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold:
    rank: 2
    fallback: silver
    executor: { listen: "127.0.0.1:5" }
    prompt: { system: "You serve {{tenant}}.", default_max_tokens: 500, max_tokens_cap: 1000 }
    models: [{ provider: p, model: g1, price: { input_per_mtok: 10, output_per_mtok: 30 } }, { provider: p, model: g2, price: { input_per_mtok: 20, output_per_mtok: 20 } }]
  silver: { rank: 1, executor: { listen: "127.0.0.1:6" }, models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 3 } }] }
plans: { pro: { default_tier: gold, max_tier: gold } }
`,
  "t.yaml",
  {},
);
const ladder = new TierLadder(config.tiers);

describe("estimateCostUsd", () => {
  it("takes the dearest model of any tier the request may reach, with the tier's system prompt and completion tokens", () => {
    // gold: input 100 + "You serve acme." (15 bytes) + 4 = 119 tokens; output min(2000, cap 1000) = 1000.
    // g1: 119 × 10 + 1000 × 30 = 31 190; g2: 119 × 20 + 1000 × 20 = 22 380 (per million).
    expect(estimateCostUsd(config.tiers, ladder, "gold", "acme", 100, 2_000)).toBeCloseTo(31_190 / 1e6, 12);
    // Without max_tokens gold asks for its default, 500.
    expect(estimateCostUsd(config.tiers, ladder, "gold", "acme", 100, 0)).toBeCloseTo((119 * 10 + 500 * 30) / 1e6, 12);
    // Capped at silver: silver's price and its default of 256.
    expect(estimateCostUsd(config.tiers, ladder, "silver", "acme", 100, 0)).toBeCloseTo((100 * 1 + 256 * 3) / 1e6, 12);
  });
});

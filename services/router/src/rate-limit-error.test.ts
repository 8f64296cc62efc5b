import { Code } from "@connectrpc/connect";
import { parseConfig } from "@tiermesh/config";
import { o200kLoaded } from "@tiermesh/policy";
import { ERROR_REASON_HEADER, RATE_LIMIT_HEADER, RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER, TENANT_RATE_LIMITED } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { httpStatusOf, openAIErrorDetail } from "./http-status.js";
import { isTenantRateLimited, rateLimitError } from "./rate-limit-error.js";
import { chargedTokens, estimatedPromptTokens } from "./token-charge.js";

describe("rate limit refusals", () => {
  it("are RESOURCE_EXHAUSTED with the reason, the limit and retry-after in seconds and ms", () => {
    const err = rateLimitError({ admitted: false, limit: "requests_per_minute", retryAfterMs: 2_345.2, message: "rate limit reached" });
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(isTenantRateLimited(err)).toBe(true);
    expect(err.metadata.get(ERROR_REASON_HEADER)).toBe(TENANT_RATE_LIMITED);
    expect(err.metadata.get(RATE_LIMIT_HEADER)).toBe("requests_per_minute");
    expect(err.metadata.get(RETRY_AFTER_HEADER)).toBe("3");
    expect(err.metadata.get(RETRY_AFTER_MS_HEADER)).toBe("2346");
    expect(httpStatusOf(err)).toBe(429);
    expect(openAIErrorDetail(err, 429)).toEqual({ type: "requests", param: null, code: "rate_limit_exceeded" });
  });

  it("name max_tokens, with no retry-after, for a request larger than the token limit", () => {
    const err = rateLimitError({ admitted: false, limit: "tokens_per_minute", retryAfterMs: undefined, message: "too large" });
    expect(err.metadata.get(RETRY_AFTER_HEADER)).toBeNull();
    expect(openAIErrorDetail(err, 429)).toEqual({ type: "tokens", param: "max_tokens", code: "rate_limit_exceeded" });
  });
});

describe("estimatedPromptTokens", () => {
  it("charges a token per four UTF-8 bytes and four a message, without the tokenizer", () => {
    expect(estimatedPromptTokens([])).toBe(0);
    expect(estimatedPromptTokens(["a".repeat(400)])).toBe(100 + 4);
    expect(estimatedPromptTokens(["hi", ""])).toBe(1 + 8);
    // Three bytes a character: CJK text counts about a token a character, as tokenizers do.
    expect(estimatedPromptTokens(["漢字漢字"])).toBe(3 + 4);
    expect(o200kLoaded()).toBe(false);
  });
});

describe("chargedTokens", () => {
  const tier = parseConfig(
    `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 1, prompt: { default_max_tokens: 256, max_tokens_cap: 1000 }, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: { pro: { default_tier: gold, max_tier: gold } }
`,
    "t.yaml",
    {},
  ).tiers["gold"];

  it("counts the prompt plus max_tokens (capped as the tier caps it), else the estimate, else the tier's default", () => {
    expect(chargedTokens(tier, 50, 200, undefined)).toBe(250);
    expect(chargedTokens(tier, 50, 5_000, undefined)).toBe(1_050);
    expect(chargedTokens(tier, 50, 0, 500)).toBe(550);
    expect(chargedTokens(tier, 50, 0, undefined)).toBe(306);
  });
});

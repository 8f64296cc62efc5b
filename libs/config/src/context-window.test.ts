import { describe, expect, it } from "vitest";
import {
  completionTokens,
  contextNeed,
  contextOverhead,
  formatTokens,
  largestWindow,
  smallestWindow,
  windowFits,
} from "./context-window.js";
import { tierSchema, type TierConfig } from "./tier-schema.js";

const tier = (models: { model: string; context_window?: number; id?: string }[], prompt: Record<string, unknown> = {}): TierConfig =>
  tierSchema.parse({
    rank: 1,
    executor: { listen: "127.0.0.1:1" },
    models: models.map((m) => ({ provider: "p", price: { input_per_mtok: 1, output_per_mtok: 1 }, ...m })),
    prompt,
  });

describe("context windows", () => {
  it("asks the caller's max_tokens, or the tier's default, never above the cap", () => {
    const t = tier([{ model: "m" }], { default_max_tokens: 300, max_tokens_cap: 1_000 });
    expect(completionTokens(t, 0)).toBe(300);
    expect(completionTokens(t, 512)).toBe(512);
    expect(completionTokens(t, 5_000)).toBe(1_000);
  });

  it("needs the messages, the tier's system prompt (4 characters a token plus 4) and the completion", () => {
    const t = tier([{ model: "m" }], { system: "For {{tenant}} on {{tier}}.", default_max_tokens: 100 });
    // "For acme on gold." is 17 characters: 5 tokens, plus 4 for the message.
    expect(contextNeed(t, { messageTokens: 1_000, askedMaxTokens: 0, tierName: "gold", tenant: "acme" })).toEqual({
      promptTokens: 1_009,
      maxTokens: 100,
      total: 1_109,
    });
    expect(contextOverhead(t, { askedMaxTokens: 0, tierName: "gold", tenant: "acme" })).toEqual({
      systemTokens: 9,
      maxTokens: 100,
      total: 109,
    });
    const plain = tier([{ model: "m" }]);
    expect(contextNeed(plain, { messageTokens: 10, askedMaxTokens: 20, tierName: "gold", tenant: "acme" }).total).toBe(30);
  });

  it("finds the largest window; a deployment without one is unknown and rules nothing out", () => {
    expect(
      largestWindow(
        tier([
          { model: "a", context_window: 8_192 },
          { model: "b", context_window: 32_000 },
        ]),
      ),
    ).toEqual({
      tokens: 32_000,
      deployment: "p/b",
      model: "b",
    });
    expect(
      largestWindow(
        tier([
          { model: "a", context_window: 8_192 },
          { id: "open", model: "b" },
        ]),
      ),
    ).toMatchObject({ tokens: undefined, deployment: "open" });
    expect(smallestWindow(tier([{ model: "a", context_window: 8_192 }, { model: "b" }, { model: "c", context_window: 4_096 }]))).toBe(
      4_096,
    );
    expect(smallestWindow(tier([{ model: "a" }]))).toBeUndefined();
    expect(windowFits(undefined, 1e9)).toBe(true);
    expect(windowFits(8_192, 8_192)).toBe(true);
    expect(windowFits(8_192, 8_193)).toBe(false);
  });

  it("rejects a window that is not a positive whole number, naming the field", () => {
    const r = tierSchema.safeParse({
      rank: 1,
      executor: { listen: "127.0.0.1:1" },
      models: [{ provider: "p", model: "m", price: { input_per_mtok: 1, output_per_mtok: 1 }, context_window: 0 }],
    });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["models", 0, "context_window"]);
  });

  it("formats token counts with thousands separators", () => {
    expect(formatTokens(9_120)).toBe("9,120");
  });
});

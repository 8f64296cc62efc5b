import { describe, expect, it } from "vitest";
import { costUsd, estimatePromptTokens, estimateTokens } from "./cost.js";

describe("costUsd", () => {
  it("prices input and output tokens per million", () => {
    const price = { input_per_mtok: 5, output_per_mtok: 15 };
    expect(costUsd(price, 1_000, 2_000)).toBeCloseTo(0.035, 12);
    expect(costUsd(price, 1_000_000, 0)).toBe(5);
    expect(costUsd(price, 0, 1_000_000)).toBe(15);
    expect(costUsd(price, 0, 0)).toBe(0);
    expect(costUsd({ input_per_mtok: 0, output_per_mtok: 0 }, 123, 456)).toBe(0);
  });
});

describe("token estimates", () => {
  it("counts with the o200k_base tokenizer", () => {
    expect(estimateTokens("")).toBe(0);
    expect(estimateTokens(" hello".repeat(10))).toBe(10);
    expect(estimateTokens("Hello, world!")).toBe(4);
  });

  it("adds four tokens of overhead per message", () => {
    expect(estimatePromptTokens([])).toBe(0);
    expect(estimatePromptTokens([{ content: " hello hello" }, { content: "" }, { content: " hello" }])).toBe(2 + 4 + 0 + 4 + 1 + 4);
  });
});

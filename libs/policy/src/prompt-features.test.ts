import { describe, expect, it } from "vitest";
import { PromptSize } from "./prompt-features.js";
import { TokenCounter } from "./token-counter.js";

describe("PromptSize", () => {
  const text = "the quick brown fox jumps over the lazy dog ".repeat(20);

  it("settles by byte length when it can, and counts when it must", () => {
    const size = new PromptSize([text], new TokenCounter(), 1_000);
    expect(size.bound).toBe(Buffer.byteLength(text) + 4);
    expect(size.over(size.bound)).toBe(false);
    expect(size.describe()).toBe(`at most ${size.bound} tokens`);
    const exact = size.count().tokens;
    expect(exact).toBeLessThan(size.bound);
    expect(size.over(exact)).toBe(false);
    expect(size.over(exact - 1)).toBe(true);
    expect(size.describe()).toBe(`${exact} tokens`);
  });

  it("counts on past its counting limit when asked about a larger size", () => {
    const exact = new PromptSize([text], new TokenCounter(), 10_000).count().tokens;
    const size = new PromptSize([text], new TokenCounter(), 20);
    expect(size.over(10)).toBe(true);
    expect(size.count().exact).toBe(false);
    expect(size.over(exact)).toBe(false);
    expect(size.over(exact - 1)).toBe(true);
  });

  it("bounds multi-byte text by its UTF-8 length", () => {
    const size = new PromptSize(["日本語のテキスト"], new TokenCounter(), 100);
    expect(size.bound).toBe(Buffer.byteLength("日本語のテキスト") + 4);
    expect(size.count().tokens).toBeLessThanOrEqual(size.bound);
  });
});

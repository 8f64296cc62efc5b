import { describe, expect, it } from "vitest";
import { retryAfterMs } from "./retry-after.js";

const NOW = Date.parse("2026-11-26T12:00:00Z");

describe("retryAfterMs", () => {
  it("reads Retry-After in seconds, fractions included", () => {
    expect(retryAfterMs({ "retry-after": "2" }, 429, NOW)).toBe(2_000);
    expect(retryAfterMs({ "retry-after": " 0.5 " }, 503, NOW)).toBe(500);
    expect(retryAfterMs({ "retry-after": "0" }, 429, NOW)).toBe(0);
  });

  it("reads Retry-After as an HTTP date, relative to now; a past date means now", () => {
    expect(retryAfterMs({ "retry-after": "Thu, 26 Nov 2026 12:00:07 GMT" }, 429, NOW)).toBe(7_000);
    expect(retryAfterMs({ "retry-after": "Thu, 26 Nov 2026 11:59:00 GMT" }, 429, NOW)).toBe(0);
  });

  it("prefers retry-after-ms (OpenAI, Azure) to Retry-After", () => {
    expect(retryAfterMs({ "retry-after-ms": "1500", "retry-after": "2" }, 429, NOW)).toBe(1_500);
  });

  it("on a 429 without Retry-After, waits for the later of OpenAI's x-ratelimit-reset-* hints", () => {
    expect(retryAfterMs({ "x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s" }, 429, NOW)).toBe(360_000);
    expect(retryAfterMs({ "x-ratelimit-reset-tokens": "250ms" }, 429, NOW)).toBe(250);
    expect(retryAfterMs({ "x-ratelimit-reset-requests": "1h2m3.5s" }, 429, NOW)).toBe(3_723_500);
    // Those headers come with every answer; they mean "wait" only on a 429.
    expect(retryAfterMs({ "x-ratelimit-reset-requests": "1s" }, 503, NOW)).toBeUndefined();
  });

  it("ignores what it cannot read", () => {
    expect(retryAfterMs({}, 429, NOW)).toBeUndefined();
    expect(retryAfterMs({ "retry-after": "soon" }, 429, NOW)).toBeUndefined();
    expect(retryAfterMs({ "retry-after": "" }, 429, NOW)).toBeUndefined();
    expect(retryAfterMs({ "retry-after-ms": "1e9" }, 429, NOW)).toBeUndefined();
    expect(retryAfterMs({ "x-ratelimit-reset-requests": "1 minute" }, 429, NOW)).toBeUndefined();
  });

  it("takes the first of repeated headers", () => {
    expect(retryAfterMs({ "retry-after": ["3", "9"] } as never, 429, NOW)).toBe(3_000);
  });
});

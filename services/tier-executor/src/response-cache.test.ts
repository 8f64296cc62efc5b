import type { CacheConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { cacheKey, isDeterministic, ResponseCache } from "./response-cache.js";

const config: CacheConfig = { enabled: true, ttl_ms: 1_000, max_entries: 3, max_bytes: 100 };

/** A string cache sized by length, on a hand-driven clock. */
function setup(overrides: Partial<CacheConfig> = {}) {
  const clock = { t: 5_000 };
  const cache = new ResponseCache<string>(
    { ...config, ...overrides },
    (v) => v.length,
    () => clock.t,
  );
  return { clock, cache };
}

describe("ResponseCache", () => {
  it("returns what was set, and undefined for unknown keys", () => {
    const { cache } = setup();
    expect(cache.set("a", "alpha")).toBe(true);
    expect(cache.get("a")).toBe("alpha");
    expect(cache.get("b")).toBeUndefined();
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(5);
  });

  it("expires entries after ttl_ms and drops them on read", () => {
    const { clock, cache } = setup();
    cache.set("a", "alpha");
    clock.t += config.ttl_ms - 1;
    expect(cache.get("a")).toBe("alpha");
    clock.t += 1;
    expect(cache.get("a")).toBeUndefined();
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it("reading does not extend the time to live; setting again does", () => {
    const { clock, cache } = setup();
    cache.set("a", "alpha");
    clock.t += 900;
    expect(cache.get("a")).toBe("alpha");
    clock.t += 100;
    expect(cache.get("a")).toBeUndefined();
    cache.set("a", "alpha");
    clock.t += 900;
    cache.set("a", "alpha2");
    clock.t += 900;
    expect(cache.get("a")).toBe("alpha2");
  });

  it("evicts the least recently used entry beyond max_entries", () => {
    const { cache } = setup();
    cache.set("a", "1");
    cache.set("b", "2");
    cache.set("c", "3");
    expect(cache.get("a")).toBe("1"); // a is now the most recently used; b is the oldest
    cache.set("d", "4");
    expect(cache.size).toBe(3);
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBe("1");
    expect(cache.get("c")).toBe("3");
    expect(cache.get("d")).toBe("4");
  });

  it("evicts least recently used entries until under max_bytes", () => {
    const { cache } = setup({ max_entries: 100 });
    cache.set("a", "x".repeat(40));
    cache.set("b", "x".repeat(40));
    cache.get("a");
    cache.set("c", "x".repeat(50)); // 130 bytes: drop b (oldest), leaving 90
    expect(cache.get("b")).toBeUndefined();
    expect(cache.bytes).toBe(90);
    cache.set("d", "x".repeat(60)); // 150: drop a, then c, leaving 60
    expect(cache.get("a")).toBeUndefined();
    expect(cache.get("c")).toBeUndefined();
    expect(cache.get("d")).toHaveLength(60);
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(60);
  });

  it("replacing a key accounts its bytes once", () => {
    const { cache } = setup();
    cache.set("a", "x".repeat(30));
    cache.set("a", "x".repeat(10));
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(10);
  });

  it("does not store a value larger than max_bytes, and evicts nothing for it", () => {
    const { cache } = setup();
    cache.set("a", "small");
    expect(cache.set("big", "x".repeat(101))).toBe(false);
    expect(cache.get("big")).toBeUndefined();
    expect(cache.get("a")).toBe("small");
    expect(cache.set("exact", "x".repeat(100))).toBe(true); // exactly max_bytes fits, once "a" is evicted
    expect(cache.get("a")).toBeUndefined();
    expect(cache.bytes).toBe(100);
  });

  it("an oversize value drops the stale entry under its key", () => {
    const { cache } = setup();
    cache.set("a", "old");
    cache.set("a", "x".repeat(101));
    expect(cache.get("a")).toBeUndefined();
    expect(cache.bytes).toBe(0);
  });

  it("refuses a nonsensical size", () => {
    const cache = new ResponseCache<number>(config, (v) => v);
    expect(() => cache.set("a", Number.NaN)).toThrow(RangeError);
    expect(() => cache.set("a", -1)).toThrow(RangeError);
  });
});

describe("cacheKey", () => {
  it("is a SHA-256 hex digest", () => {
    expect(cacheKey({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    // sha256('{"a":1}')
    expect(cacheKey({ a: 1 })).toBe("015abd7f5cc57a2dd94b7590f04ad8084273905ee33ec5cebeae62276a97f862");
  });

  it("does not depend on object key order, at any depth", () => {
    const one = { model: "m", messages: [{ role: "user", content: "hi" }], options: { temperature: 0, max: 5 } };
    const two = { options: { max: 5, temperature: 0 }, messages: [{ content: "hi", role: "user" }], model: "m" };
    expect(cacheKey(one)).toBe(cacheKey(two));
  });

  it("differs when the data differs, including array order", () => {
    expect(cacheKey({ a: 1 })).not.toBe(cacheKey({ a: 2 }));
    expect(cacheKey([1, 2])).not.toBe(cacheKey([2, 1]));
    expect(cacheKey({ a: "1" })).not.toBe(cacheKey({ a: 1 }));
  });

  it("follows JSON for undefined members and keeps a __proto__ key as data", () => {
    expect(cacheKey({ a: 1, b: undefined })).toBe(cacheKey({ a: 1 }));
    const withProto = JSON.parse('{"__proto__": {"x": 1}, "a": 1}') as unknown;
    expect(cacheKey(withProto)).not.toBe(cacheKey({ a: 1 }));
  });
});

describe("isDeterministic", () => {
  it("is true only for an explicit temperature of 0", () => {
    expect(isDeterministic(0)).toBe(true);
    expect(isDeterministic(undefined)).toBe(false);
    expect(isDeterministic(0.1)).toBe(false);
    expect(isDeterministic(1)).toBe(false);
  });
});

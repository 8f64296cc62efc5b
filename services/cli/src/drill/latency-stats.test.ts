import { describe, expect, it } from "vitest";
import { above, percentiles } from "./latency-stats.js";

describe("percentiles", () => {
  it("uses nearest rank", () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
    expect(percentiles(values)).toEqual({ p50: 50, p95: 95, p99: 99, max: 100 });
    expect(percentiles([7])).toEqual({ p50: 7, p95: 7, p99: 7, max: 7 });
    expect(percentiles([1, 2, 3, 1000])).toEqual({ p50: 2, p95: 1000, p99: 1000, max: 1000 });
  });
  it("is null without values and rounds to 0.1 ms", () => {
    expect(percentiles([])).toBeNull();
    expect(percentiles([1.2345])?.p50).toBe(1.2);
  });
});

describe("above", () => {
  it("counts strictly above the threshold", () => {
    expect(above([100, 800, 801, 2000], 800)).toEqual({ count: 2, share: 0.5 });
    expect(above([], 800)).toEqual({ count: 0, share: 0 });
  });
});

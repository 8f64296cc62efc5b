import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addToBuckets, bucketOf, bucketQuantile, LATENCY_BUCKETS_MS, mergeBuckets } from "./latency-buckets.js";

describe("latency buckets", () => {
  it("puts a value in the first bucket whose bound holds it, past the last in the overflow", () => {
    expect(bucketOf(0)).toBe(0);
    expect(bucketOf(10)).toBe(0);
    expect(bucketOf(11)).toBe(1);
    expect(bucketOf(120_000)).toBe(LATENCY_BUCKETS_MS.length - 1);
    expect(bucketOf(120_001)).toBe(LATENCY_BUCKETS_MS.length);
  });

  it("reads a quantile within one bucket above the true one, for any samples", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 110_000 }), { minLength: 1, maxLength: 300 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (samples, q) => {
          const buckets: bigint[] = [];
          for (const s of samples) addToBuckets(buckets, s);
          const sorted = [...samples].sort((a, b) => a - b);
          const truth = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)]!;
          const read = bucketQuantile(buckets, q);
          expect(read).toBeGreaterThanOrEqual(truth);
          expect(read).toBeLessThanOrEqual(Math.max(10, truth * 1.5));
        },
      ),
    );
  });

  it("adds up exactly when merged", () => {
    const a: bigint[] = [];
    const b: bigint[] = [];
    addToBuckets(a, 50);
    addToBuckets(b, 50);
    addToBuckets(b, 5_000);
    mergeBuckets(a, b);
    expect(a[bucketOf(50)]).toBe(2n);
    expect(a[bucketOf(5_000)]).toBe(1n);
    expect(bucketQuantile([], 0.5)).toBe(0);
  });
});

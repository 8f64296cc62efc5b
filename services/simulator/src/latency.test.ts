import { afterEach, describe, expect, it, vi } from "vitest";
import { pause } from "./abortable-pause.js";
import { sampleDelayMs, sampleTotalDelayMs } from "./latency.js";

/** Small seeded PRNG so the distribution checks are reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
}

describe("sampleDelayMs", () => {
  it("has a median near the configured median", () => {
    for (const seed of [1, 2, 3]) {
      const random = mulberry32(seed);
      const samples = Array.from({ length: 51 }, () => sampleDelayMs({ median: 100, p99: 300 }, random));
      const median = quantile(samples, 0.5);
      expect(median).toBeGreaterThan(70);
      expect(median).toBeLessThan(140);
      expect(samples.every((s) => s > 0)).toBe(true);
    }
  });

  it("puts the 99th percentile near the configured p99", () => {
    const random = mulberry32(42);
    const samples = Array.from({ length: 5000 }, () => sampleDelayMs({ median: 100, p99: 300 }, random));
    const p99 = quantile(samples, 0.99);
    expect(p99).toBeGreaterThan(230);
    expect(p99).toBeLessThan(390);
  });

  it("returns 0 for median 0 without drawing randomness", () => {
    const random = vi.fn(() => 0.5);
    expect(sampleDelayMs({ median: 0, p99: 50 }, random)).toBe(0);
    expect(sampleTotalDelayMs({ median: 0, p99: 50 }, 100, random)).toBe(0);
    expect(random).not.toHaveBeenCalled();
  });

  it("is constant when p99 equals median", () => {
    expect(sampleDelayMs({ median: 7, p99: 7 }, Math.random)).toBe(7);
  });

  it("survives a random source returning 0", () => {
    expect(Number.isFinite(sampleDelayMs({ median: 10, p99: 20 }, () => 0))).toBe(true);
  });
});

describe("pause", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("does not create a timer for a zero delay", async () => {
    vi.useFakeTimers();
    const done = pause(0, new AbortController().signal);
    expect(vi.getTimerCount()).toBe(0);
    await expect(done).resolves.toBe(true);
  });

  it("clears its timer when aborted", async () => {
    vi.useFakeTimers();
    const aborter = new AbortController();
    const done = pause(10_000, aborter.signal);
    expect(vi.getTimerCount()).toBe(1);
    aborter.abort();
    await expect(done).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });
});

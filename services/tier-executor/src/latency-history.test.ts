import { describe, expect, it } from "vitest";
import { LatencyHistory } from "./latency-history.js";

describe("LatencyHistory", () => {
  it("has no p99 below min samples, then the p99 of what it holds (2 significant digits)", () => {
    const clock = { t: 0 };
    const h = new LatencyHistory(() => clock.t, 30_000, 20);
    for (let i = 1; i <= 19; i++) h.record(i);
    expect(h.p99).toBeUndefined();
    for (let i = 20; i <= 100; i++) h.record(i);
    expect(h.p99).toBe(99);
    h.record(5_000);
    clock.t += 250; // recomputed at most every 64 samples or 250 ms
    expect(h.p99).toBeGreaterThanOrEqual(99);
    for (let i = 0; i < 100; i++) h.record(1_000);
    expect(h.p99).toBeGreaterThan(990);
    expect(h.p99).toBeLessThan(1_010);
  });

  it("forgets samples after one to two spans", () => {
    const clock = { t: 0 };
    const h = new LatencyHistory(() => clock.t, 1_000, 1);
    h.record(100);
    clock.t = 1_500; // rotated once: still held
    expect(h.count).toBe(1);
    h.record(200);
    clock.t = 2_600; // rotated again: the first sample is gone
    expect(h.count).toBe(1);
    clock.t = 10_000;
    expect(h.count).toBe(0);
    expect(h.p99).toBeUndefined();
  });
});

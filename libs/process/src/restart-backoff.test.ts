import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { defaultRestartBackoff, RestartBackoff, restartDelay, type RestartBackoffOptions } from "./restart-backoff.js";

const noJitter: RestartBackoffOptions = { ...defaultRestartBackoff, initialMs: 100, maxMs: 1_600, jitter: 0, resetAfterMs: 10_000 };

describe("restartDelay", () => {
  it("doubles from the initial delay and stops at the cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 50].map((n) => restartDelay(n, noJitter, 0.5))).toEqual([100, 200, 400, 800, 1_600, 1_600, 1_600, 1_600]);
  });

  it("jitter only takes off, at most its fraction of the delay", () => {
    const options = { ...noJitter, jitter: 0.25 };
    expect(restartDelay(3, options, 0)).toBe(400);
    expect(restartDelay(3, options, 0.999_999)).toBe(300);
    expect(restartDelay(9, options, 0.5)).toBe(1_400);
  });

  it("stays within [cap × (1 − jitter), cap] and never shrinks below the previous base, for all inputs", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 600_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 10_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialMs, extra, multiplier, jitter, consecutive, random) => {
          const options = { ...defaultRestartBackoff, initialMs, maxMs: initialMs + extra, multiplier, jitter };
          const delay = restartDelay(consecutive, options, random);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(options.maxMs);
          const base = restartDelay(consecutive, { ...options, jitter: 0 }, 0);
          expect(base).toBeGreaterThanOrEqual(restartDelay(Math.max(1, consecutive - 1), { ...options, jitter: 0 }, 0));
          expect(delay).toBeGreaterThanOrEqual(Math.floor(base * (1 - jitter)));
        },
      ),
    );
  });
});

describe("RestartBackoff", () => {
  it("grows while the process keeps dying soon after each start", () => {
    const backoff = new RestartBackoff(noJitter, () => 0);
    const decisions = [50, 20, 300, 10].map((uptime) => backoff.next(uptime));
    expect(decisions.map((d) => d.delayMs)).toEqual([100, 200, 400, 800]);
    expect(decisions.map((d) => d.consecutive)).toEqual([1, 2, 3, 4]);
  });

  it("starts afresh once the process has stayed up for resetAfterMs", () => {
    const backoff = new RestartBackoff(noJitter, () => 0);
    for (let i = 0; i < 6; i++) backoff.next(0);
    expect(backoff.next(9_999).delayMs).toBe(1_600);
    const afterGoodRun = backoff.next(10_000);
    expect(afterGoodRun).toEqual({ consecutive: 1, delayMs: 100, crashLoop: false });
  });

  it("calls a crash loop after crashLoopAfter quick crashes, and keeps retrying at the cap", () => {
    const backoff = new RestartBackoff({ ...noJitter, crashLoopAfter: 3 }, () => 0);
    const decisions = Array.from({ length: 10 }, () => backoff.next(5));
    expect(decisions.map((d) => d.crashLoop)).toEqual([false, false, true, true, true, true, true, true, true, true]);
    expect(decisions.slice(-3).map((d) => d.delayMs)).toEqual([1_600, 1_600, 1_600]);
  });

  it("defaults: first restart within a second, cap of 30 s", () => {
    const backoff = new RestartBackoff({}, () => 0.999);
    expect(backoff.next(0).delayMs).toBeLessThanOrEqual(250);
    for (let i = 0; i < 20; i++) backoff.next(0);
    const capped = backoff.next(0).delayMs;
    expect(capped).toBeLessThanOrEqual(30_000);
    expect(capped).toBeGreaterThanOrEqual(24_000);
  });
});

import type { BreakerConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "./circuit-breaker.js";

const config: BreakerConfig = { window_ms: 10_000, min_requests: 10, failure_ratio: 0.5, open_ms: 5_000, half_open_probes: 2 };

/** A breaker on a hand-driven clock starting at `start`. */
function setup(overrides: Partial<BreakerConfig> = {}, start = 1_000_000) {
  const clock = { t: start };
  const breaker = new CircuitBreaker({ ...config, ...overrides }, () => clock.t);
  return { clock, breaker };
}

function recordMany(breaker: CircuitBreaker, successes: number, failures: number): void {
  for (let i = 0; i < successes; i++) breaker.record(true);
  for (let i = 0; i < failures; i++) breaker.record(false);
}

/** Opens the breaker with a window of pure failures. */
function trip(breaker: CircuitBreaker): void {
  recordMany(breaker, 0, config.min_requests);
  expect(breaker.state).toBe("open");
}

describe("CircuitBreaker", () => {
  it("starts closed and allows everything", () => {
    const { breaker } = setup();
    expect(breaker.state).toBe("closed");
    for (let i = 0; i < 100; i++) expect(breaker.allow()).toBe(true);
  });

  it("does not open below min_requests, however many of them failed", () => {
    const { breaker } = setup();
    recordMany(breaker, 0, 9);
    expect(breaker.state).toBe("closed");
    breaker.record(false);
    expect(breaker.state).toBe("open");
  });

  it("opens exactly at the failure ratio, not just below it", () => {
    const below = setup().breaker;
    recordMany(below, 6, 4); // 40% of 10
    expect(below.state).toBe("closed");
    recordMany(below, 1, 0); // 4 of 11
    expect(below.state).toBe("closed");

    const at = setup().breaker;
    recordMany(at, 5, 5); // 50% of 10
    expect(at.state).toBe("open");
  });

  it("refuses every attempt while open, and ignores late outcomes", () => {
    const { clock, breaker } = setup();
    trip(breaker);
    for (let i = 0; i < 10; i++) expect(breaker.allow()).toBe(false);
    clock.t += config.open_ms - 1;
    expect(breaker.allow()).toBe(false);
    breaker.record(true); // an attempt started before the breaker opened
    expect(breaker.state).toBe("open");
    expect(breaker.allow()).toBe(false);
  });

  it("half-opens after open_ms and lets exactly half_open_probes through", () => {
    const { clock, breaker } = setup();
    trip(breaker);
    clock.t += config.open_ms;
    expect(breaker.state).toBe("half_open");
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    expect(breaker.allow()).toBe(false);
  });

  it("a half-open success closes the breaker with an empty window", () => {
    const { clock, breaker } = setup();
    trip(breaker);
    clock.t += config.open_ms;
    expect(breaker.allow()).toBe(true);
    breaker.record(true);
    expect(breaker.state).toBe("closed");
    expect(breaker.allow()).toBe(true);
    // The failures that tripped it are gone: nine more failures are below min_requests.
    recordMany(breaker, 0, 9);
    expect(breaker.state).toBe("closed");
  });

  it("a half-open failure re-opens for another open_ms", () => {
    const { clock, breaker } = setup();
    trip(breaker);
    clock.t += config.open_ms;
    expect(breaker.allow()).toBe(true);
    clock.t += 100;
    breaker.record(false);
    expect(breaker.state).toBe("open");
    clock.t += config.open_ms - 1;
    expect(breaker.allow()).toBe(false);
    clock.t += 1;
    expect(breaker.allow()).toBe(true);
    expect(breaker.state).toBe("half_open");
  });

  it("abandon() gives a probe slot back without deciding anything", () => {
    const { clock, breaker } = setup({ half_open_probes: 1 });
    trip(breaker);
    clock.t += config.open_ms;
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.abandon();
    expect(breaker.state).toBe("half_open");
    expect(breaker.allow()).toBe(true);
  });

  it("a probe never reported frees its slot after open_ms", () => {
    const { clock, breaker } = setup({ half_open_probes: 1 });
    trip(breaker);
    clock.t += config.open_ms;
    expect(breaker.allow()).toBe(true);
    clock.t += config.open_ms - 1;
    expect(breaker.allow()).toBe(false);
    clock.t += 1;
    expect(breaker.allow()).toBe(true);
  });

  it("trip() opens at once, for open_ms, whatever the window holds", () => {
    const { clock, breaker } = setup();
    recordMany(breaker, 5, 0);
    breaker.trip();
    expect(breaker.state).toBe("open");
    expect(breaker.allow()).toBe(false);
    clock.t += config.open_ms - 1;
    expect(breaker.allow()).toBe(false);
    clock.t += 1;
    expect(breaker.state).toBe("half_open");
    // A half-open probe that stalls trips it again: another full open_ms.
    expect(breaker.allow()).toBe(true);
    breaker.trip();
    expect(breaker.state).toBe("open");
    clock.t += config.open_ms - 1;
    expect(breaker.allow()).toBe(false);
  });

  it("reset() closes an open or half-open breaker at once, with an empty window", () => {
    const { clock, breaker } = setup({ half_open_probes: 1 });
    trip(breaker);
    breaker.reset();
    expect(breaker.state).toBe("closed");
    expect(breaker.allow()).toBe(true);
    recordMany(breaker, 0, 9); // the failures that tripped it are gone
    expect(breaker.state).toBe("closed");

    breaker.record(false);
    expect(breaker.state).toBe("open");
    clock.t += config.open_ms;
    expect(breaker.allow()).toBe(true); // the only probe slot
    breaker.reset();
    expect(breaker.state).toBe("closed");
    expect(breaker.allow()).toBe(true);
  });

  it("outcomes older than window_ms leave the window", () => {
    const { clock, breaker } = setup({}, 0);
    recordMany(breaker, 0, 9);
    clock.t = config.window_ms - 1; // still inside the last bucket of the window
    breaker.record(false);
    expect(breaker.state).toBe("open");

    const fresh = setup({}, 0);
    recordMany(fresh.breaker, 0, 9);
    fresh.clock.t = config.window_ms; // the first bucket has slid out
    fresh.breaker.record(false);
    expect(fresh.breaker.state).toBe("closed");
  });

  it("the window slides bucket by bucket, and success dilutes failures", () => {
    const { clock, breaker } = setup({}, 0);
    // 4 failures at t=0, then 5 successes per second: the ratio stays below 50% once enough
    // successes are in, and the early failures drop out after window_ms.
    recordMany(breaker, 0, 4);
    for (let s = 1; s <= 20; s++) {
      clock.t = s * 1_000;
      recordMany(breaker, 5, 0);
      expect(breaker.state).toBe("closed");
    }
    // Now only successes are in the window; 10 failures make 10 of 60, well below 50%.
    clock.t += 1;
    recordMany(breaker, 0, 10);
    expect(breaker.state).toBe("closed");
  });
});

import { describe, expect, it } from "vitest";
import { HedgeBudget, RetryBudget } from "./retry-budget.js";

describe("RetryBudget", () => {
  it("caps retries at ratio × first attempts plus the per-second floor under continuous failure", () => {
    const clock = { t: 0 };
    const ratio = 0.2;
    const minPerSecond = 5;
    const budget = new RetryBudget(ratio, minPerSecond, () => clock.t);
    const n = 1_000;
    let retries = 0;
    for (let i = 0; i < n; i++) {
      clock.t = i * 10; // 100 requests a second for 10 seconds
      budget.deposit();
      // Every attempt fails; retry for as long as the budget says yes (up to 10 attempts).
      for (let attempt = 2; attempt <= 10 && budget.tryRetry(); attempt++) retries++;
    }
    const seconds = 10;
    expect(retries).toBeGreaterThanOrEqual(ratio * n);
    expect(retries).toBeLessThanOrEqual(ratio * n + minPerSecond * seconds);
  });

  it("without a floor, retries are exactly the deposited share", () => {
    const budget = new RetryBudget(0.2, 0, () => 0);
    let retries = 0;
    for (let i = 0; i < 1_000; i++) {
      budget.deposit();
      if (budget.tryRetry()) retries++;
    }
    expect(retries).toBe(200);
  });

  it("the floor allows minPerSecond retries a second with no deposits at all", () => {
    const clock = { t: 0 };
    const budget = new RetryBudget(0.2, 3, () => clock.t);
    const allowedIn = (second: number) => {
      let allowed = 0;
      for (let i = 0; i < 10; i++) {
        clock.t = second * 1_000 + i * 50;
        if (budget.tryRetry()) allowed++;
      }
      return allowed;
    };
    expect(allowedIn(0)).toBe(3);
    expect(allowedIn(1)).toBe(3);
    expect(allowedIn(7)).toBe(3);
  });

  it("token-paid retries count toward the floor, so the floor does not add to a busy second", () => {
    const budget = new RetryBudget(1, 2, () => 0);
    budget.deposit();
    budget.deposit();
    expect(budget.tryRetry()).toBe(true); // token
    expect(budget.tryRetry()).toBe(true); // token
    expect(budget.tryRetry()).toBe(false); // no tokens, and 2 retries were already allowed this second
  });

  it("a fractional floor spreads over seconds", () => {
    const clock = { t: 0 };
    const budget = new RetryBudget(0, 0.5, () => clock.t);
    let allowed = 0;
    for (let s = 0; s < 10; s++) {
      clock.t = s * 1_000;
      while (budget.tryRetry()) allowed++;
    }
    expect(allowed).toBe(5);
  });

  it("the bucket is capped so a long quiet spell cannot fund a retry storm", () => {
    const budget = new RetryBudget(0.2, 0, () => 0);
    for (let i = 0; i < 10_000; i++) budget.deposit();
    expect(budget.available).toBe(20);
    let retries = 0;
    while (budget.tryRetry()) retries++;
    expect(retries).toBe(20);
  });

  it("rejects negative settings", () => {
    expect(() => new RetryBudget(-0.1, 0)).toThrow(RangeError);
    expect(() => new RetryBudget(0.1, Number.NaN)).toThrow(RangeError);
  });
});

describe("HedgeBudget", () => {
  it("never allows more hedges than max_extra_ratio × requests, at any point", () => {
    const ratio = 0.1;
    const budget = new HedgeBudget(ratio);
    let hedges = 0;
    for (let requests = 1; requests <= 5_000; requests++) {
      budget.deposit();
      // Every request would like two hedges.
      if (budget.tryHedge()) hedges++;
      if (budget.tryHedge()) hedges++;
      expect(hedges).toBeLessThanOrEqual(ratio * requests + 1e-9);
    }
    expect(hedges).toBe(500);
  });

  it("has no floor", () => {
    const budget = new HedgeBudget(0.5);
    expect(budget.tryHedge()).toBe(false);
    budget.deposit();
    expect(budget.tryHedge()).toBe(false);
    budget.deposit();
    expect(budget.tryHedge()).toBe(true);
    expect(budget.tryHedge()).toBe(false);
  });
});

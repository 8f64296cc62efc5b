import { Code } from "@connectrpc/connect";
import { RETRY_AFTER_HEADER } from "@tiermesh/proto";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  attemptsOf,
  closeFixtures,
  configOf,
  context,
  deployment,
  failed,
  fixed,
  httpError,
  ok,
  openStream,
  request,
  runnerFor,
  seen,
  served,
  simulator,
  upstream,
} from "./http-upstream.test-support.js";

// The retry loop through TierRunner over real HTTP (see http-upstream.test-support.ts): the
// request's and the tier's attempt limits, TTFT timeouts, the retry budget, deadlines,
// cancellation and what a 429 leaves the caller.

afterEach(closeFixtures);

describe("TierRunner: attempts, retries and timeouts", () => {
  async function alwaysFailing() {
    const a = await upstream((res) => httpError(res, 500, "boom", "server_error"));
    const b = await upstream((res) => httpError(res, 500, "boom", "server_error"));
    const h = runnerFor(
      configOf(
        { a: a.url, b: b.url },
        {
          gold: {
            models: [deployment("a", "a"), deployment("b", "b")],
            retries: { max_attempts: 3, backoff_ms: 1 },
            breaker: { min_requests: 1_000 },
          },
        },
      ),
    );
    return { h, calls: () => a.calls.length + b.calls.length };
  }

  it("Retries must not multiply across layers (seen in LiteLLM): the request's maxAttempts caps the tier's", async () => {
    const { h, calls } = await alwaysFailing();

    const { error } = await failed(h, request({ maxAttempts: 1 }));

    expect(calls()).toBe(1);
    expect(error.code).toBe(Code.Unavailable);
    expect(attemptsOf(error)).toBe("1");
    expect(seen(h.outcomes)).toEqual(["a:ERROR"]);
  });

  it("uses the tier's max_attempts when the request leaves it open (0) or allows more", async () => {
    const { h, calls } = await alwaysFailing();
    expect(attemptsOf((await failed(h, request({ maxAttempts: 2 }))).error)).toBe("2");
    expect(attemptsOf((await failed(h, request({ maxAttempts: 0 }))).error)).toBe("3");
    expect(attemptsOf((await failed(h, request({ maxAttempts: 9 }))).error)).toBe("3");
    expect(calls()).toBe(8);
  });

  it("A hung upstream (accepts, never answers) is cut at the TTFT timeout and failed over", async () => {
    const hung = await upstream(() => undefined);
    const b = await upstream(ok);
    const h = runnerFor(
      configOf(
        { a: hung.url, b: b.url },
        {
          gold: {
            models: [deployment("a", "a"), deployment("b", "b")],
            timeouts: { ttft_ms: 100, attempt_ms: 10_000 },
            retries: { max_attempts: 2, backoff_ms: 1 },
          },
        },
      ),
    );

    const started = Date.now();
    const { result } = await served(h);
    const elapsed = Date.now() - started;

    expect(result.deployment.id).toBe("b");
    expect(elapsed).toBeGreaterThanOrEqual(95);
    expect(elapsed).toBeLessThan(2_000); // far from attempt_ms (10 s)
    expect(seen(h.outcomes)).toEqual(["a:TIMEOUT", "b:OK"]);
    await vi.waitFor(() => expect(hung.calls[0]!.abandoned).toBe(true), { timeout: 2_000 });
  });

  it("A hung upstream is hedged before its TTFT timeout when hedging is on", async () => {
    const hung = await upstream(() => undefined);
    const b = await upstream(ok);
    const h = runnerFor(
      configOf(
        { a: hung.url, b: b.url },
        {
          gold: {
            models: [deployment("a", "a"), deployment("b", "b")],
            timeouts: { ttft_ms: 100, attempt_ms: 5_000 },
            hedge: { enabled: true, delay_ms: 30, min_delay_ms: 0, max_extra_ratio: 1 },
          },
        },
      ),
    );

    const { result } = await served(h);

    expect(result).toMatchObject({ deployment: { id: "b" }, hedged: true, attempts: 2 });
    // Cancelled as the hedge's loser, before its 100 ms TTFT timeout could fire.
    await vi.waitFor(() => expect(seen(h.outcomes).sort()).toEqual(["a:CANCELLED", "b:OK"]), { timeout: 2_000 });
    await vi.waitFor(() => expect(hung.calls[0]!.abandoned).toBe(true), { timeout: 2_000 });
  });

  it("Retry budget: retries stay within budget_ratio of first attempts when everything fails", async () => {
    const sim = await simulator({ broken: fixed(0, 1, { error_rate: 1 }) });
    const h = runnerFor(
      configOf(
        { sim: sim.url },
        {
          gold: {
            models: [deployment("a", "sim", "broken"), deployment("b", "sim", "broken")],
            retries: { max_attempts: 3, backoff_ms: 0, budget_ratio: 0.2, min_retries_per_second: 0 },
            breaker: { min_requests: 1_000 },
          },
        },
      ),
    );

    let reportedAttempts = 0;
    for (let i = 0; i < 50; i++) {
      const { error } = await failed(h);
      expect(error.code).toBe(Code.Unavailable);
      reportedAttempts += Number(attemptsOf(error));
    }

    const retries = h.outcomes.length - 50;
    // The bucket starts empty and gains 0.2 per request, so its cap (20) is never reached.
    expect(retries).toBeLessThanOrEqual(0.2 * 50);
    expect(retries).toBeGreaterThan(0);
    expect(reportedAttempts).toBe(h.outcomes.length);
  });

  it("makes no provider call when the deadline has already passed", async () => {
    const a = await upstream(ok);
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")] } }));

    const { error } = await failed(h, request(), { deadline: Date.now() - 1, signal: new AbortController().signal });

    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(attemptsOf(error)).toBe("0");
    expect(a.calls).toHaveLength(0);
    expect(h.outcomes).toEqual([]);
  });

  it("bounds each attempt by the caller's remaining deadline", async () => {
    const hung = await upstream(() => undefined);
    const h = runnerFor(
      configOf({ a: hung.url }, { gold: { models: [deployment("a", "a")], timeouts: { attempt_ms: 10_000, ttft_ms: 10_000 } } }),
    );

    const started = Date.now();
    const { error } = await failed(h, request(), context(150));

    expect(error.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(1_000);
    await vi.waitFor(() => expect(hung.calls[0]!.abandoned).toBe(true), { timeout: 2_000 });
  });

  it("passes the caller's cancellation on to the provider", async () => {
    const a = await upstream((res) => openStream(res)); // headers, then nothing
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")], retries: { max_attempts: 3 } } }));
    const caller = new AbortController();

    const pending = failed(h, request(), context(5_000, caller.signal));
    await vi.waitFor(() => expect(a.calls).toHaveLength(1), { timeout: 2_000 });
    caller.abort();
    const { error } = await pending;

    expect(error.code).toBe(Code.Canceled);
    await vi.waitFor(() => expect(a.calls[0]!.abandoned).toBe(true), { timeout: 2_000 });
    expect(a.calls).toHaveLength(1); // not retried
    expect(seen(h.outcomes)).toEqual(["a:CANCELLED"]);
  });

  it("surfaces a 429 from the only deployment as RESOURCE_EXHAUSTED with its Retry-After when not retried", async () => {
    const a = await upstream((res) => httpError(res, 429, "slow down", "requests", { "retry-after": "3" }));
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")], retries: { max_attempts: 1 } } }));

    const { error } = await failed(h);

    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get(RETRY_AFTER_HEADER)).toBe("3");
    expect(seen(h.outcomes)).toEqual(["a:RATE_LIMITED"]);
  });

  // Regression (fixed): the retry loop (then in tier-runner.ts serve()): after a 429 the deployment cools down; when the retry then
  // finds no usable deployment, `lastError` is overwritten by a generic "server" error, so the
  // caller gets UNAVAILABLE without the provider's Retry-After (the HTTP edge answers 503
  // instead of 429 + Retry-After). Only reachable with max_attempts >= 2 (the default).
  it("keeps a 429's RESOURCE_EXHAUSTED and Retry-After when a retry finds every deployment cooling down", async () => {
    const a = await upstream((res) => httpError(res, 429, "slow down", "requests", { "retry-after": "3" }));
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")], retries: { max_attempts: 2, backoff_ms: 1 } } }));

    const { error } = await failed(h);

    expect(a.calls).toHaveLength(1);
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(error.metadata.get(RETRY_AFTER_HEADER)).toBe("3");
  });
});

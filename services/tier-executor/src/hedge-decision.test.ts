import { afterEach, describe, expect, it, vi } from "vitest";
import {
  answer,
  closeFixtures,
  configOf,
  context,
  deployment,
  fixed,
  later,
  openStream,
  request,
  runnerFor,
  seen,
  served,
  settle,
  simulator,
  upstream,
} from "./http-upstream.test-support.js";
import type { RunResult } from "./tier-runner.js";

// Hedging inside a tier through TierRunner over real HTTP (see http-upstream.test-support.ts).

afterEach(closeFixtures);

describe("TierRunner: hedging", () => {
  /** A answers its first token after `ttftMs`; B (simulator) answers at once. */
  async function slowAndFast(ttftMs: number, hedge: Record<string, unknown>) {
    const slow = await upstream((res, call) => {
      openStream(res);
      later(ttftMs, call, () => answer(res, ["slow"]));
    });
    const sim = await simulator({ fast: fixed(1, 2) });
    const h = runnerFor(
      configOf(
        { a: slow.url, sim: sim.url },
        { gold: { models: [deployment("a", "a"), deployment("b", "sim", "fast")], hedge: { enabled: true, min_delay_ms: 0, ...hedge } } },
      ),
    );
    return { h, slow };
  }

  it("hedges a slow first attempt: the fast deployment answers and the slow one is cancelled", async () => {
    const { h, slow } = await slowAndFast(300, { delay_ms: 40, max_extra_ratio: 1 });

    const { pieces, result } = await served(h);

    expect(pieces).toEqual(["the", " router"]); // B's text; A would have said "slow"
    expect(result).toMatchObject({ deployment: { id: "b" }, hedged: true, attempts: 2 });
    await vi.waitFor(() => expect(slow.calls[0]!.abandoned).toBe(true), { timeout: 2_000 });
    await vi.waitFor(() => expect(seen(h.outcomes).sort()).toEqual(["a:CANCELLED", "b:OK"]), { timeout: 2_000 });
    expect(h.runner.deployments[0]!.breaker.state).toBe("closed");
  });

  // Regression (fixed): the attempt round (then in tier-runner.ts serve()): a hedged winner's ttftMs is measured from the hedge's own
  // start, but is offset only by the primary's start (`attemptStart - started`), so the hedge
  // delay is left out and the reported time to first token is too small.
  it("reports the caller's time to first token for a hedged answer, hedge delay included", async () => {
    const { h } = await slowAndFast(300, { delay_ms: 40, max_extra_ratio: 1 });

    const started = performance.now();
    const run = h.runner.run(request(), context());
    await run.next();
    const observedTtftMs = performance.now() - started;
    const { result } = await settle(run);

    expect(result?.hedged).toBe(true);
    // The runner's figure may lag what the caller saw by a little, not by the 40 ms hedge delay.
    expect(result!.ttftMs).toBeGreaterThan(observedTtftMs - 15);
  });

  it("caps hedges with the hedge budget (max_extra_ratio 0.1 of requests)", async () => {
    const { h } = await slowAndFast(60, { delay_ms: 10, max_extra_ratio: 0.1 });

    const results: RunResult[] = [];
    for (let wave = 0; wave < 5; wave++) {
      const batch = await Promise.all(Array.from({ length: 10 }, () => served(h)));
      results.push(...batch.map((b) => b.result));
    }

    const hedges = results.filter((r) => r.hedged).length;
    // The budget starts empty and gains 0.1 per request: 5 hedges over 50 requests.
    expect(hedges).toBeGreaterThan(0);
    expect(hedges).toBeLessThanOrEqual(0.1 * 50);
    expect(results.reduce((n, r) => n + r.attempts, 0)).toBe(50 + hedges);
  });
});

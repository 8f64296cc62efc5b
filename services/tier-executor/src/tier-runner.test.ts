import { Code } from "@connectrpc/connect";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  answer,
  attemptsOf,
  type Behaviour,
  closeFixtures,
  configOf,
  context,
  deployment,
  failed,
  fixed,
  httpError,
  later,
  ok,
  openStream,
  PRICE,
  request,
  runnerFor,
  seen,
  served,
  simulator,
  sse,
  textChunk,
  upstream,
} from "./http-upstream.test-support.js";

// TierRunner end to end over real HTTP (see http-upstream.test-support.ts): serving, failover
// before the first token, circuit breakers, and a caller that stops reading.

afterEach(closeFixtures);

describe("TierRunner: serving", () => {
  it("serves a request: text in order, a result with model, provider, usage and cost, one OK outcome", async () => {
    const sim = await simulator({ "sim-gold": fixed(5, 5) });
    const h = runnerFor(configOf({ sim: sim.url }, { gold: { models: [{ provider: "sim", model: "sim-gold", price: PRICE }] } }));

    const { pieces, result } = await served(h);

    expect(pieces).toEqual(["the", " router", " keeps", " each", " tier"]);
    // The simulator counts ceil(10 chars / 4) + 4 per message = 7 prompt tokens.
    const cost = (7 * PRICE.input_per_mtok + 5 * PRICE.output_per_mtok) / 1e6;
    expect(result).toMatchObject({
      deployment: { id: "sim/sim-gold", provider: "sim", model: "sim-gold" },
      finishReason: "stop",
      promptTokens: 7,
      completionTokens: 5,
      usageEstimated: false,
      attempts: 1,
      cached: false,
      hedged: false,
    });
    expect(result.costUsd).toBeCloseTo(cost, 12);
    expect(result.ttftMs).toBeGreaterThanOrEqual(4);
    expect(result.totalMs).toBeGreaterThanOrEqual(result.ttftMs);
    expect(seen(h.outcomes)).toEqual(["sim/sim-gold:OK"]);
    expect(h.outcomes[0]).toMatchObject({
      tier: "gold",
      model: "sim-gold",
      provider: "sim",
      promptTokens: 7,
      completionTokens: 5,
      probe: false,
    });
    expect(h.outcomes[0]!.costUsd).toBeCloseTo(cost, 12);
  });

  it("reports the tier the router classified the request into with each of its outcomes", async () => {
    const a = await upstream(ok);
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")] } }));
    await served(h, { ...request(), requestedTier: "silver" });
    await served(h, request());
    expect(h.outcomes.map((o) => [o.tier, o.requestedTier])).toEqual([
      ["gold", "silver"],
      ["gold", ""],
    ]);
  });

  it("does not report probe requests (the monitor that sent them measures them)", async () => {
    const a = await upstream(ok);
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")] } }));
    await served(h, request({ probe: true }));
    expect(a.calls).toHaveLength(1);
    expect(h.outcomes).toEqual([]);
  });

  it("sends the tier's system prompt with {{tier}} and {{tenant}} filled in, and caps max_tokens", async () => {
    const a = await upstream(ok);
    const h = runnerFor(
      configOf(
        { a: a.url },
        {
          gold: {
            models: [deployment("a", "a")],
            prompt: { system: "You are the {{tier}} assistant of {{tenant}} ({{tier}}).", default_max_tokens: 64, max_tokens_cap: 100 },
          },
        },
      ),
    );

    await served(h, request({ tenant: "initech", maxTokens: 0 }));
    await served(h, request({ tenant: "initech", maxTokens: 500 }));

    expect(a.calls[0]!.body.messages).toEqual([
      { role: "system", content: "You are the gold assistant of initech (gold)." },
      { role: "user", content: "Say hello." },
    ]);
    expect(a.calls.map((c) => c.body.max_tokens)).toEqual([64, 100]);
    expect(a.calls[0]!.body.stream).toBe(true);
  });
});

describe("TierRunner: failover before the first token", () => {
  const unavailableAtStreamStart: Record<string, Behaviour> = {
    "HTTP 503 answering the streaming request": (res) =>
      httpError(res, 503, "Service Unavailable", "server_error", { "content-type": "text/event-stream" }),
    "200, then a 503 error event as the first chunk": (res) => {
      openStream(res);
      res.end(`data: ${JSON.stringify({ error: { message: "Service Unavailable", code: 503 } })}\n\n`);
    },
  };

  it.each(Object.entries(unavailableAtStreamStart))(
    "A 503 during streaming must trigger fallback (seen in LiteLLM): %s",
    async (_name, behaviour) => {
      const a = await upstream(behaviour);
      const b = await upstream(ok);
      const h = runnerFor(
        configOf(
          { a: a.url, b: b.url },
          { gold: { models: [deployment("a", "a"), deployment("b", "b")], retries: { max_attempts: 2, backoff_ms: 1 } } },
        ),
      );

      const { pieces, result } = await served(h);

      expect(pieces.join("")).toBe("Hello there");
      expect(result.deployment.id).toBe("b");
      expect(result.attempts).toBe(2);
      expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:OK"]);
      expect([a.calls.length, b.calls.length]).toEqual([1, 1]);
    },
  );

  const brokenBeforeFirstToken: Record<string, Behaviour> = {
    "server_error event before any text": (res) => {
      openStream(res);
      res.end(`data: ${JSON.stringify({ error: { message: "overloaded", type: "server_error" } })}\n\n`);
    },
    "connection dropped after an empty role chunk": (res) => {
      openStream(res);
      res.write(
        `data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })}\n\n`,
        () => res.destroy(),
      );
    },
    "connection dropped right after the headers": (res) => {
      openStream(res);
      setImmediate(() => res.destroy());
    },
    "stream closed cleanly without [DONE] or any text": (res) => {
      openStream(res);
      res.end();
    },
  };

  it.each(Object.entries(brokenBeforeFirstToken))(
    "A stream error before the first chunk must retry or fall back (seen in Bifrost): %s",
    async (_name, behaviour) => {
      const a = await upstream(behaviour);
      const b = await upstream(ok);
      const h = runnerFor(
        configOf(
          { a: a.url, b: b.url },
          { gold: { models: [deployment("a", "a"), deployment("b", "b")], retries: { max_attempts: 2, backoff_ms: 1 } } },
        ),
      );

      const { pieces, result } = await served(h);

      expect(pieces).toEqual(["Hello", " there"]);
      expect(result.deployment.id).toBe("b");
      expect(result.attempts).toBe(2);
      expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:OK"]);
    },
  );

  it("A stream cut after some chunks must end with an error, not a clean-looking success (seen in Portkey)", async () => {
    // The simulator cuts the socket (no [DONE]) after half of the 6 tokens.
    const sim = await simulator({ cut: fixed(1, 6, { stream_cut_rate: 1 }), healthy: fixed(1, 6) });
    const h = runnerFor(
      configOf(
        { sim: sim.url },
        {
          gold: { models: [deployment("a", "sim", "cut"), deployment("b", "sim", "healthy")], retries: { max_attempts: 3, backoff_ms: 1 } },
        },
      ),
    );

    const { pieces, error } = await failed(h);

    expect(pieces).toEqual(["the", " router", " keeps"]);
    expect(error.code).toBe(Code.Unavailable);
    expect(error.rawMessage).toMatch(/interrupted/);
    expect(attemptsOf(error)).toBe("1");
    // No failover once text has reached the caller: B would restart the answer mid-sentence.
    expect(seen(h.outcomes)).toEqual(["a:ERROR"]);
  });
});

describe("TierRunner: circuit breakers", () => {
  it("An open breaker must skip the failing deployment instead of trying it first (seen in Portkey)", async () => {
    const sim = await simulator({ ma: fixed(1, 2, { outage: true }), mb: fixed(1, 2) });
    const h = runnerFor(
      configOf(
        { sim: sim.url },
        {
          gold: {
            models: [deployment("a", "sim", "ma"), deployment("b", "sim", "mb")],
            retries: { max_attempts: 2, backoff_ms: 1 },
            breaker: { window_ms: 10_000, min_requests: 3, failure_ratio: 0.5, open_ms: 200, half_open_probes: 1 },
          },
        },
      ),
    );
    const breakerOfA = () => h.runner.deployments.find((d) => d.deployment.id === "a")!.breaker;

    // Closed: A (listed first) is tried first every time and fails over to B.
    for (let i = 0; i < 3; i++) expect((await served(h)).result.attempts).toBe(2);
    expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:OK", "a:ERROR", "b:OK", "a:ERROR", "b:OK"]);
    expect(breakerOfA().state).toBe("open");

    // Open: B is served first; A is not even tried.
    h.outcomes.length = 0;
    const whileOpen = await served(h);
    expect(whileOpen.result).toMatchObject({ deployment: { id: "b" }, attempts: 1 });
    expect(seen(h.outcomes)).toEqual(["b:OK"]);

    // After open_ms, one half-open probe reaches A; it fails, so the breaker opens again.
    await new Promise((r) => setTimeout(r, 220));
    expect(breakerOfA().state).toBe("half_open");
    h.outcomes.length = 0;
    expect((await served(h)).result).toMatchObject({ deployment: { id: "b" }, attempts: 2 });
    expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:OK"]);
    expect(breakerOfA().state).toBe("open");

    // A recovers (simulator admin API); the next probe succeeds and closes the breaker.
    await sim.patch("ma", { outage: false });
    await new Promise((r) => setTimeout(r, 220));
    h.outcomes.length = 0;
    expect((await served(h)).result).toMatchObject({ deployment: { id: "a" }, attempts: 1 });
    expect(seen(h.outcomes)).toEqual(["a:OK"]);
    expect(breakerOfA().state).toBe("closed");
  });

  it("One tenant's 400 errors must not cool down a deployment shared with other tenants (seen in LiteLLM)", async () => {
    const a = await upstream((res, call) =>
      call.body.messages[0]!.content.includes("tenant noisy")
        ? httpError(res, 400, "messages: this prompt is not allowed", "invalid_request_error")
        : answer(res, ["fine"]),
    );
    const b = await upstream(ok);
    const h = runnerFor(
      configOf(
        { a: a.url, b: b.url },
        {
          gold: {
            models: [deployment("a", "a"), deployment("b", "b")],
            prompt: { system: "tenant {{tenant}}" },
            retries: { max_attempts: 3, backoff_ms: 1 },
            breaker: { min_requests: 3, failure_ratio: 0.5, open_ms: 10_000 },
          },
        },
      ),
    );

    for (let i = 0; i < 10; i++) {
      const { error } = await failed(h, request({ tenant: "noisy" }));
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/not allowed/);
      expect(attemptsOf(error)).toBe("1");
    }
    expect(b.calls).toHaveLength(0); // a client error is not retried elsewhere
    expect(h.runner.deployments[0]!.breaker.state).toBe("closed");

    const quiet = await served(h, request({ tenant: "quiet" }));
    expect(quiet.result.deployment.id).toBe("a");
    expect(seen(h.outcomes)).toEqual([...Array<string>(10).fill("a:CLIENT_ERROR"), "a:OK"]);
  });
});

describe("TierRunner: abandoned streams", () => {
  // Regression (fixed): tier-runner.ts run(): when the caller stops reading mid-stream (`return()` on the
  // generator, e.g. `break` out of `for await`), only the bulkhead slot is released. The inner
  // serve() generator and the attempt generator are left suspended, so the upstream request
  // stays open until attempt_ms fires, and `outstanding` is never decremented (skewing
  // least_outstanding selection for good). Fix: in run()'s finally call `await run.return()`
  // on the serve() generator, and give serve() a try/finally that returns (or cancels) the
  // winning attempt's generator.
  it("closes the upstream request and frees the deployment when the caller stops reading", async () => {
    const a = await upstream((res, call) => {
      openStream(res);
      sse(res, textChunk("first"));
      later(1_000, call, () => answer(res, [" rest"]));
    });
    const h = runnerFor(configOf({ a: a.url }, { gold: { models: [deployment("a", "a")], timeouts: { attempt_ms: 1_500 } } }));

    const run = h.runner.run(request(), context());
    expect(await run.next()).toEqual({ done: false, value: { type: "text", text: "first" } });
    await run.return(undefined as never);

    await vi.waitFor(() => expect(a.calls[0]!.abandoned).toBe(true), { timeout: 500 });
    expect(h.runner.deployments[0]!.outstanding).toBe(0);
  });
});

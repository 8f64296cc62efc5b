import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, type Config } from "@tiermesh/config";
import { ATTEMPTS_HEADER, CompletionInputSchema, OutcomeStatus, RETRY_AFTER_HEADER } from "@tiermesh/proto";
import { createSimulator, simulatorConfigSchema } from "@tiermesh/simulator";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { afterEach, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import type { ProviderAdapter } from "./providers/provider-adapter.js";
import { createProviders } from "./providers/registry.js";
import { TierRunner, type RunContext, type RunEvent, type RunRequest, type RunResult } from "./tier-runner.js";

// TierRunner over real HTTP: the in-process simulator, plus tiny node:http upstreams for
// behaviours the simulator lacks. Tier configs are YAML parsed by @tiermesh/config.
// Every runner uses random = () => 0, so the first listed deployment is always picked
// first (weighted strategy) and backoff is half of backoff_ms.

// ---------------------------------------------------------------------------------------
// Fixtures

const servers: Server[] = [];
const simulators: { close(): Promise<void> }[] = [];
const adapters: ProviderAdapter[] = [];
const timers: NodeJS.Timeout[] = [];

afterEach(async () => {
  for (const t of timers.splice(0)) clearTimeout(t);
  // Servers first: closing an undici pool waits for requests still in flight (hung upstreams).
  for (const s of servers) s.closeAllConnections();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  await Promise.all(simulators.splice(0).map((s) => s.close()));
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});

interface ChatBody {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens: number;
  temperature?: number;
  stream: boolean;
}

/** One request as the upstream saw it. */
interface UpstreamCall {
  body: ChatBody;
  /** The connection closed. */
  closed: boolean;
  /** The connection closed before the answer was complete: the client went away. */
  abandoned: boolean;
}

type Behaviour = (res: ServerResponse, call: UpstreamCall) => void;

/** A provider speaking the OpenAI chat completions stream, on 127.0.0.1:0. */
async function upstream(behaviour: Behaviour): Promise<{ url: string; calls: UpstreamCall[] }> {
  const calls: UpstreamCall[] = [];
  const server = createServer((req, res) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (text += chunk));
    req.on("end", () => {
      const call: UpstreamCall = { body: JSON.parse(text) as ChatBody, closed: false, abandoned: false };
      calls.push(call);
      res.on("close", () => {
        call.closed = true;
        call.abandoned = !res.writableFinished;
      });
      behaviour(res, call);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, calls };
}

/** Runs `fn` after `ms` unless the client has gone away by then. */
function later(ms: number, call: UpstreamCall, fn: () => void): void {
  timers.push(setTimeout(() => call.closed || fn(), ms));
}

function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${JSON.stringify(data)}\n\n`);
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
}

function textChunk(content: string): unknown {
  return { object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] };
}

/** Streams `pieces`, a finish chunk, usage and [DONE] (opening the stream if not yet open). */
function answer(res: ServerResponse, pieces: readonly string[]): void {
  if (!res.headersSent) openStream(res);
  for (const text of pieces) sse(res, textChunk(text));
  sse(res, { object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  sse(res, { object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 11, completion_tokens: pieces.length } });
  res.end("data: [DONE]\n\n");
}

function httpError(res: ServerResponse, status: number, message: string, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify({ error: { message, type, code: null } }));
}

const ok: Behaviour = (res) => answer(res, ["Hello", " there"]);

type SimProfile = Record<string, unknown>;

/** The simulator with the given model profiles; `patch` changes one at run time over HTTP. */
async function simulator(models: Record<string, SimProfile>): Promise<{ url: string; patch(model: string, change: SimProfile): Promise<void> }> {
  const sim = createSimulator(simulatorConfigSchema.parse({ models }));
  simulators.push(sim);
  const url = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
  return {
    url,
    async patch(model, change) {
      const res = await fetch(`${url}/admin/models/${model}`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(change),
      });
      expect(res.status).toBe(200);
    },
  };
}

/** Simulator profile with fixed latencies (median = p99) and a fixed answer length. */
function fixed(ttftMs: number, tokens: number, more: SimProfile = {}): SimProfile {
  return {
    ttft_ms: { median: ttftMs, p99: ttftMs },
    inter_token_ms: { median: 0, p99: 0 },
    output_tokens: { min: tokens, max: tokens },
    ...more,
  };
}

const PRICE = { input_per_mtok: 5, output_per_mtok: 15 };

function deployment(id: string, provider: string, model = "m"): Record<string, unknown> {
  return { id, provider, model, price: PRICE };
}

/** A whole config, as YAML text, around the given providers (name → base URL) and tiers. */
function configOf(providers: Record<string, string>, tiers: Record<string, Record<string, unknown>>): Config {
  const text = stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: Object.fromEntries(Object.entries(providers).map(([name, url]) => [name, { kind: "openai", base_url: `${url}/v1` }])),
    tiers: Object.fromEntries(
      Object.entries(tiers).map(([name, tier], i) => [name, { rank: i + 1, executor: { listen: `127.0.0.1:${7410 + i}` }, ...tier }]),
    ),
    plans: {},
  });
  return parseConfig(text, "test.yaml", {});
}

interface Harness {
  runner: TierRunner;
  outcomes: OutcomeInit[];
}

function runnerFor(config: Config, tierName = "gold"): Harness {
  const providers = createProviders(config, [tierName], {});
  adapters.push(...providers.values());
  const outcomes: OutcomeInit[] = [];
  const runner = new TierRunner({ tierName, tier: config.tiers[tierName]!, providers, report: (o) => outcomes.push(o), random: () => 0 });
  return { runner, outcomes };
}

/** `deployment:STATUS` per reported outcome, in report order. */
function seen(outcomes: readonly OutcomeInit[]): string[] {
  return outcomes.map((o) => `${o.deployment}:${OutcomeStatus[o.status ?? OutcomeStatus.UNSPECIFIED]}`);
}

interface RequestOptions {
  content?: string;
  tenant?: string;
  temperature?: number;
  maxTokens?: number;
  maxAttempts?: number;
  probe?: boolean;
}

function request(o: RequestOptions = {}): RunRequest {
  return {
    input: create(CompletionInputSchema, {
      messages: [{ role: "user", content: o.content ?? "Say hello." }],
      maxTokens: o.maxTokens ?? 8,
      ...(o.temperature !== undefined ? { temperature: o.temperature } : {}),
    }),
    probe: o.probe ?? false,
    tenant: o.tenant ?? "acme",
    maxAttempts: o.maxAttempts ?? 0,
  };
}

function context(timeoutMs = 5_000, signal = new AbortController().signal): RunContext {
  return { deadline: Date.now() + timeoutMs, signal };
}

interface Settled {
  pieces: string[];
  /** Every event, advice included, in order. */
  events: RunEvent[];
  result?: RunResult;
  error?: unknown;
}

/** Pulls a run to its end; text yielded before a failure stays in `pieces`. */
async function settle(run: AsyncGenerator<RunEvent, RunResult>): Promise<Settled> {
  const pieces: string[] = [];
  const events: RunEvent[] = [];
  try {
    for (;;) {
      const step = await run.next();
      if (step.done) return { pieces, events, result: step.value };
      events.push(step.value);
      if (step.value.type === "text") pieces.push(step.value.text);
    }
  } catch (error) {
    return { pieces, events, error };
  }
}

async function served(h: Harness, req = request(), ctx = context()): Promise<{ pieces: string[]; result: RunResult }> {
  const s = await settle(h.runner.run(req, ctx));
  if (s.error !== undefined) throw s.error;
  return { pieces: s.pieces, result: s.result! };
}

async function failed(h: Harness, req = request(), ctx = context()): Promise<{ pieces: string[]; error: ConnectError }> {
  const s = await settle(h.runner.run(req, ctx));
  expect(s.result, "expected the run to fail").toBeUndefined();
  expect(s.error).toBeInstanceOf(ConnectError);
  return { pieces: s.pieces, error: s.error as ConnectError };
}

const attemptsOf = (err: ConnectError) => err.metadata.get(ATTEMPTS_HEADER);

// ---------------------------------------------------------------------------------------

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
    expect(h.outcomes[0]).toMatchObject({ tier: "gold", model: "sim-gold", provider: "sim", promptTokens: 7, completionTokens: 5, probe: false });
    expect(h.outcomes[0]!.costUsd).toBeCloseTo(cost, 12);
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
        configOf({ a: a.url, b: b.url }, { gold: { models: [deployment("a", "a"), deployment("b", "b")], retries: { max_attempts: 2, backoff_ms: 1 } } }),
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
      res.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }] })}\n\n`, () =>
        res.destroy(),
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
        configOf({ a: a.url, b: b.url }, { gold: { models: [deployment("a", "a"), deployment("b", "b")], retries: { max_attempts: 2, backoff_ms: 1 } } }),
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
        { gold: { models: [deployment("a", "sim", "cut"), deployment("b", "sim", "healthy")], retries: { max_attempts: 3, backoff_ms: 1 } } },
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

describe("TierRunner: attempts, retries and timeouts", () => {
  async function alwaysFailing() {
    const a = await upstream((res) => httpError(res, 500, "boom", "server_error"));
    const b = await upstream((res) => httpError(res, 500, "boom", "server_error"));
    const h = runnerFor(
      configOf(
        { a: a.url, b: b.url },
        { gold: { models: [deployment("a", "a"), deployment("b", "b")], retries: { max_attempts: 3, backoff_ms: 1 }, breaker: { min_requests: 1_000 } } },
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
    const h = runnerFor(configOf({ a: hung.url }, { gold: { models: [deployment("a", "a")], timeouts: { attempt_ms: 10_000, ttft_ms: 10_000 } } }));

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

  // Regression (fixed): tier-runner.ts serve(): after a 429 the deployment cools down; when the retry then
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

  // Regression (fixed): tier-runner.ts serve(): a hedged winner's ttftMs is measured from the hedge's own
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

describe("TierRunner: bulkhead", () => {
  it("refuses a request at once when every slot and queue place is taken, with a retry-after", async () => {
    const sim = await simulator({ slow: fixed(150, 2) });
    const h = runnerFor(configOf({ sim: sim.url }, { gold: { models: [deployment("a", "sim", "slow")], bulkhead: { max_concurrency: 1, max_queue: 1 } } }));

    let inFlight = 2;
    const first = settle(h.runner.run(request(), context())).finally(() => inFlight--);
    const queued = settle(h.runner.run(request(), context())).finally(() => inFlight--);
    const refused = await settle(h.runner.run(request(), context()));

    expect(inFlight).toBe(2); // refused at once, not after waiting for a slot
    expect(refused.error).toBeInstanceOf(ConnectError);
    const error = refused.error as ConnectError;
    expect(error.code).toBe(Code.ResourceExhausted);
    expect(Number(error.metadata.get(RETRY_AFTER_HEADER))).toBeGreaterThanOrEqual(1);
    expect(attemptsOf(error)).toBe("0");

    const [a, b] = await Promise.all([first, queued]);
    expect(a.result?.deployment.id).toBe("a");
    expect(b.result?.deployment.id).toBe("a");
    expect(b.result!.totalMs).toBeGreaterThanOrEqual(290); // waited for the first one's slot
    expect(seen(h.outcomes)).toEqual(["a:OK", "a:OK"]);
  });
});

describe("TierRunner: response cache", () => {
  it("serves a repeated temperature-0 request from the tier's cache, never others or other tiers", async () => {
    const a = await upstream((res) => answer(res, ["cached", " answer"]));
    const tier = { models: [deployment("a", "a")], cache: { enabled: true, ttl_ms: 60_000 } };
    const config = configOf({ a: a.url }, { gold: tier, silver: tier });
    const gold = runnerFor(config, "gold");
    const silver = runnerFor(config, "silver");

    const first = await served(gold, request({ temperature: 0 }));
    const second = await served(gold, request({ temperature: 0 }));
    expect(first.result.cached).toBe(false);
    expect(second.pieces.join("")).toBe("cached answer");
    expect(second.result).toMatchObject({ cached: true, costUsd: 0, attempts: 0, deployment: { id: "a" } });
    expect(a.calls).toHaveLength(1);
    expect(seen(gold.outcomes)).toEqual(["a:OK"]);

    // Temperature unset is never cached.
    await served(gold, request());
    expect((await served(gold, request())).result.cached).toBe(false);
    expect(a.calls).toHaveLength(3);

    // Another tier's runner has its own cache.
    expect((await served(silver, request({ temperature: 0 }))).result.cached).toBe(false);
    expect(a.calls).toHaveLength(4);
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

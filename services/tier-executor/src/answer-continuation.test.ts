import { Writable } from "node:stream";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, type Config } from "@tiermesh/config";
import { ATTEMPTS_HEADER, CompletionInputSchema, OutcomeStatus } from "@tiermesh/proto";
import { createSimulator, simulatorConfigSchema } from "@tiermesh/simulator";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { ProviderAdapter } from "./providers/provider-adapter.js";
import { createProviders } from "./providers/registry.js";
import { TierRunner, type RunRequest, type RunResult } from "./tier-runner.js";

// Answers whose stream fails mid-way, over real HTTP against the in-process simulator: cut,
// stalled between tokens, a provider that refuses the prefix; plus malformed chunks and a
// missing [DONE]. The simulator continues an assistant prefix from the word after its last,
// so a seamless answer is exactly the simulator's usual words in order.

const simulators: { close(): Promise<void> }[] = [];
const adapters: ProviderAdapter[] = [];

afterEach(async () => {
  await Promise.all(simulators.splice(0).map((s) => s.close()));
  await Promise.all(adapters.splice(0).map((a) => a.close()));
});

/** The simulator's first `n` words, as one answer. */
const WORDS = ["the", "router", "keeps", "each", "tier", "within", "its", "latency", "budget", "while"];
const words = (n: number) => WORDS.slice(0, n).map((w, i) => (i === 0 ? w : ` ${w}`));

function profile(tokens: number, more: Record<string, unknown> = {}) {
  return { ttft_ms: { median: 1, p99: 1 }, inter_token_ms: { median: 1, p99: 1 }, output_tokens: { min: tokens, max: tokens }, ...more };
}

async function simulator(models: Record<string, Record<string, unknown>>): Promise<string> {
  const sim = createSimulator(simulatorConfigSchema.parse({ models }));
  simulators.push(sim);
  return `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}/v1`;
}

/**
 * Tier gold with deployments a (provider `first`) and b (provider `second`), both on `url`;
 * `second` continues prefixes unless told otherwise.
 */
function tierConfig(
  url: string,
  models: { a: string; b: string },
  o: { secondContinues?: boolean; tier?: Record<string, unknown> } = {},
): Config {
  const text = stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: {
      first: { kind: "openai", base_url: url },
      second: { kind: "openai", base_url: url, continuation: o.secondContinues === false ? "none" : "prefix" },
    },
    tiers: {
      gold: {
        rank: 1,
        executor: { listen: "127.0.0.1:7410" },
        models: [
          { id: "a", provider: "first", model: models.a, price: { input_per_mtok: 1, output_per_mtok: 2 } },
          { id: "b", provider: "second", model: models.b, price: { input_per_mtok: 1, output_per_mtok: 2 } },
        ],
        retries: { max_attempts: 3, backoff_ms: 1 },
        ...o.tier,
      },
    },
    plans: {},
  });
  return parseConfig(text, "test.yaml", {});
}

interface Harness {
  runner: TierRunner;
  outcomes: OutcomeInit[];
  logs: Record<string, unknown>[];
}

function runnerFor(config: Config): Harness {
  const providers = createProviders(config, ["gold"], {});
  adapters.push(...providers.values());
  const outcomes: OutcomeInit[] = [];
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split("\n")) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const logger = pino({ level: "info" }, sink);
  const runner = new TierRunner({
    tierName: "gold",
    tier: config.tiers["gold"]!,
    providers,
    report: (o) => outcomes.push(o),
    random: () => 0,
    logger,
  });
  return { runner, outcomes, logs };
}

function request(o: { assistantPrefix?: string; maxTokens?: number } = {}): RunRequest {
  return {
    input: create(CompletionInputSchema, { messages: [{ role: "user", content: "Say something." }], maxTokens: o.maxTokens ?? 64 }),
    probe: false,
    tenant: "acme",
    maxAttempts: 0,
    assistantPrefix: o.assistantPrefix,
  };
}

async function settle(h: Harness, req = request()): Promise<{ text: string; result?: RunResult; error?: ConnectError; ms: number }> {
  const started = performance.now();
  const run = h.runner.run(req, { deadline: Date.now() + 10_000, signal: new AbortController().signal });
  let text = "";
  try {
    for (;;) {
      const step = await run.next();
      if (step.done) return { text, result: step.value, ms: performance.now() - started };
      if (step.value.type === "text") text += step.value.text;
    }
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return { text, error: error as ConnectError, ms: performance.now() - started };
  }
}

const seen = (outcomes: readonly OutcomeInit[]) => outcomes.map((o) => `${o.deployment}:${OutcomeStatus[o.status ?? 0]}`);

describe("TierRunner: an answer whose stream fails mid-way is continued on another deployment", () => {
  it("a cut stream goes on from a prefix of what was delivered, with no gap or repeat", async () => {
    const url = await simulator({ cut: profile(6, { stream_cut_rate: 1, fault_after_tokens: 3 }), healthy: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "cut", b: "healthy" }));

    const { text, result } = await settle(h);

    expect(text).toBe(words(6).join(""));
    expect(result).toMatchObject({ deployment: { id: "b" }, attempts: 2, continuations: 1, finishReason: "stop" });
    expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:OK"]);
  });

  it("the continuation asks only for the completion tokens the answer has left", async () => {
    const url = await simulator({ cut: profile(10, { stream_cut_rate: 1, fault_after_tokens: 3 }), healthy: profile(10) });
    const h = runnerFor(tierConfig(url, { a: "cut", b: "healthy" }));

    const { text, result } = await settle(h, request({ maxTokens: 6 }));

    // 3 tokens from a, then 6 - 3 from b: the answer keeps to max_tokens 6.
    expect(text).toBe(words(6).join(""));
    expect(result).toMatchObject({ deployment: { id: "b" }, completionTokens: 3, finishReason: "length" });
  });

  it("a stream silent between tokens is cut at the inter-token stall threshold, counted, and continued", async () => {
    const url = await simulator({ stalls: profile(6, { stream_stall_rate: 1, fault_after_tokens: 2 }), healthy: profile(4) });
    const h = runnerFor(tierConfig(url, { a: "stalls", b: "healthy" }, { tier: { stall: { inter_token: { min_ms: 100, max_ms: 300 } } } }));

    const { text, result, ms } = await settle(h);

    expect(text).toBe(words(6).join(""));
    expect(result?.deployment.id).toBe("b");
    // No history yet: cut at max_ms (300 ms), far from the 30 s attempt timeout.
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(1_500);
    expect(seen(h.outcomes)).toEqual(["a:STALLED", "b:OK"]);
    const a = h.runner.deployments.find((d) => d.deployment.id === "a")!;
    expect(a.pace.stalls).toBe(1);
    expect(h.logs.some((l) => l["deployment"] === "a" && String(l["msg"]).includes("stalled between tokens"))).toBe(true);
  });

  it("a stream stall counts as a failure on the deployment's breaker", async () => {
    const url = await simulator({ stalls: profile(6, { stream_stall_rate: 1, fault_after_tokens: 2 }), healthy: profile(4) });
    const tier = { stall: { inter_token: { min_ms: 50, max_ms: 100 } }, breaker: { min_requests: 1, failure_ratio: 1 } };
    const h = runnerFor(tierConfig(url, { a: "stalls", b: "healthy" }, { tier }));
    const state = (id: string) => h.runner.deployments.find((d) => d.deployment.id === id)!.breaker.state;
    expect(state("a")).toBe("closed");
    await settle(h);
    expect(state("a")).toBe("open");
    expect(state("b")).toBe("closed");
  });

  it("a target that refuses the prefix leaves the caller with the original failure, not the refusal", async () => {
    const url = await simulator({
      cut: profile(6, { stream_cut_rate: 1, fault_after_tokens: 3 }),
      picky: profile(3, { refuse_prefix: true }),
    });
    const h = runnerFor(tierConfig(url, { a: "cut", b: "picky" }));

    const { text, error } = await settle(h);

    expect(text).toBe(words(3).join(""));
    expect(error?.code).toBe(Code.Unavailable);
    expect(error?.rawMessage).toMatch(/^tier gold: stream interrupted after the first token: first: /);
    expect(error?.rawMessage).not.toMatch(/prefill|prefix/);
    expect(error?.metadata.get(ATTEMPTS_HEADER)).toBe("2");
    expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:CLIENT_ERROR"]);
    expect(h.logs.some((l) => String(l["reason"]).includes("b refused the prefix"))).toBe(true);
  });

  it("is not tried with continuation off for the tier, nor on a provider that cannot continue", async () => {
    const models = { cut: profile(6, { stream_cut_rate: 1, fault_after_tokens: 3 }), healthy: profile(3) };
    for (const o of [{ tier: { continuation: { enabled: false } } }, { secondContinues: false }]) {
      const h = runnerFor(tierConfig(await simulator(models), { a: "cut", b: "healthy" }, o));
      const { text, error } = await settle(h);
      expect(text).toBe(words(3).join(""));
      expect(error?.rawMessage).toMatch(/stream interrupted after the first token/);
      expect(error?.metadata.get(ATTEMPTS_HEADER)).toBe("1");
      expect(seen(h.outcomes)).toEqual(["a:ERROR"]);
    }
  });

  it("stays under the request's attempt limit", async () => {
    const url = await simulator({ cut: profile(6, { stream_cut_rate: 1, fault_after_tokens: 3 }), healthy: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "cut", b: "healthy" }, { tier: { retries: { max_attempts: 1 } } }));
    const { error } = await settle(h);
    expect(error?.metadata.get(ATTEMPTS_HEADER)).toBe("1");
    expect(seen(h.outcomes)).toEqual(["a:ERROR"]);
  });
});

describe("TierRunner: continuing an answer that began elsewhere", () => {
  it("sends only to deployments that can continue, yields only the continuation, within the tokens left", async () => {
    const url = await simulator({ one: profile(3), two: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "one", b: "two" }));
    const { text, result } = await settle(h, request({ assistantPrefix: words(4).join(""), maxTokens: 6 }));
    expect(result?.deployment.id).toBe("b");
    // The prefix's 4 tokens come off max_tokens 6: 2 more, where the model would give 3.
    expect(words(4).join("") + text).toBe(words(6).join(""));
  });

  it("refuses with FAILED_PRECONDITION when no deployment can continue, without a provider call", async () => {
    const url = await simulator({ one: profile(3), two: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "one", b: "two" }, { secondContinues: false }));
    const { error } = await settle(h, request({ assistantPrefix: "the" }));
    expect(error?.code).toBe(Code.FailedPrecondition);
    expect(h.outcomes).toEqual([]);
  });
});

describe("TierRunner: tolerant streams", () => {
  it("skips a malformed chunk, counts it on the deployment and logs it with the deployment", async () => {
    const url = await simulator({ bad: profile(6, { malformed_chunk_rate: 1, fault_after_tokens: 2 }), two: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "bad", b: "two" }));
    const { text, result } = await settle(h);
    expect(text).toBe(words(6).join(""));
    expect(result).toMatchObject({ deployment: { id: "a" }, attempts: 1, continuations: 0 });
    expect(h.runner.deployments.find((d) => d.deployment.id === "a")!.skippedChunks).toBe(1);
    const line = h.logs.find((l) => l["msg"] === "malformed stream chunk skipped");
    expect(line).toMatchObject({ tier: "gold", deployment: "a" });
  });

  it("accepts an answer that ends with its finish reason and usage but no [DONE]", async () => {
    const url = await simulator({ nodone: profile(6, { missing_done_rate: 1 }), two: profile(3) });
    const h = runnerFor(tierConfig(url, { a: "nodone", b: "two" }));
    const { text, result } = await settle(h);
    expect(text).toBe(words(6).join(""));
    expect(result).toMatchObject({
      deployment: { id: "a" },
      attempts: 1,
      completionTokens: 6,
      usageEstimated: false,
      finishReason: "stop",
    });
    expect(seen(h.outcomes)).toEqual(["a:OK"]);
  });
});

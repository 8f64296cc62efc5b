import { Code, ConnectError } from "@connectrpc/connect";
import { DEPLOYMENT_COOLING, ERROR_REASON_HEADER, RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { describe, expect, it } from "vitest";
import { createExecutorMetrics } from "./executor-metrics.js";
import { answering, context, FakeProvider, request, seen, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import type { ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError } from "./providers/provider-error.js";
import { TierRunner, type RunRequest } from "./tier-runner.js";

// A provider's request to wait (429, Retry-After) cools the deployment down: no traffic and
// no canary probe reaches it until the wait is over. Time is a hand-moved clock.

/** Answers with an HTTP error status, as the adapters report it. */
const refusing = (status: number, retryAfterMs?: number): Behaviour =>
  async function* () {
    const failure = status === 429 ? "rate_limited" : "server";
    throw new ProviderError(failure, `HTTP ${status}`, { status, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  };

function harness(models: Record<string, Behaviour>, tier: Record<string, unknown> = {}) {
  const provider = new FakeProvider(models);
  const outcomes: OutcomeInit[] = [];
  const clock = { now: 1_000_000 };
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), { retries: { max_attempts: 1 }, ...tier }),
    providers: new Map([["fake", provider]]),
    report: (o) => outcomes.push(o),
    random: () => 0,
    now: () => clock.now,
  });
  const state = (id: string) => runner.deployments.find((d) => d.deployment.id === id)!;
  return { runner, provider, outcomes, clock, state };
}

async function outcome(runner: TierRunner, req: RunRequest): Promise<{ ok: boolean; error?: ConnectError }> {
  const run = runner.run(req, context());
  try {
    for (;;) if ((await run.next()).done) return { ok: true };
  } catch (error) {
    return { ok: false, error: ConnectError.from(error) };
  }
}

const probe = (deployment: string) => request({ probe: true, deployment });

describe("Retry-After cool-down", () => {
  it("a 429 with Retry-After 2 s: no traffic and no probe reaches the deployment for 2 s, then both do", async () => {
    const h = harness({ a: refusing(429, 2_000) });
    expect((await outcome(h.runner, request())).error?.code).toBe(Code.ResourceExhausted);
    expect(h.provider.callsTo("a")).toBe(1);

    h.provider.models["a"] = answering(0);
    h.clock.now += 1_900;
    const refused = await outcome(h.runner, probe("a"));
    expect(refused.error?.code).toBe(Code.ResourceExhausted);
    expect(refused.error?.metadata.get(ERROR_REASON_HEADER)).toBe(DEPLOYMENT_COOLING);
    expect(refused.error?.metadata.get(RETRY_AFTER_MS_HEADER)).toBe("100");
    expect(refused.error?.metadata.get(RETRY_AFTER_HEADER)).toBe("1");
    const traffic = await outcome(h.runner, request());
    expect(traffic.error?.code).toBe(Code.ResourceExhausted);
    expect(traffic.error?.metadata.get(RETRY_AFTER_HEADER)).toBe("1");
    expect(h.provider.callsTo("a")).toBe(1);

    h.clock.now += 100;
    expect(await outcome(h.runner, probe("a"))).toEqual({ ok: true });
    expect(await outcome(h.runner, request())).toEqual({ ok: true });
    expect(h.provider.callsTo("a")).toBe(3);
    // The refused probe reported nothing: the monitor decides what a refusal means.
    expect(seen(h.outcomes)).toEqual(["a:RATE_LIMITED", "a:OK"]);
  });

  it("a 429 answered to a probe cools the deployment too", async () => {
    const h = harness({ a: refusing(429, 5_000) });
    expect((await outcome(h.runner, probe("a"))).error?.code).toBe(Code.ResourceExhausted);
    h.clock.now += 4_000;
    expect((await outcome(h.runner, probe("a"))).error?.metadata.get(ERROR_REASON_HEADER)).toBe(DEPLOYMENT_COOLING);
    expect(h.provider.callsTo("a")).toBe(1);
  });

  it("traffic moves to another deployment while one cools down", async () => {
    const h = harness({ a: refusing(429, 3_000), b: answering(0) }, { retries: { max_attempts: 2, backoff_ms: 0 } });
    expect(await outcome(h.runner, request())).toEqual({ ok: true });
    for (let i = 0; i < 5; i++) expect(await outcome(h.runner, request())).toEqual({ ok: true });
    expect(h.provider.callsTo("a")).toBe(1);
    expect(h.provider.callsTo("b")).toBe(6);
  });

  it("caps an absurd Retry-After at cooldown.max_ms", async () => {
    const h = harness({ a: refusing(429, 86_400_000) }, { cooldown: { max_ms: 10_000 } });
    const r = await outcome(h.runner, request());
    expect(h.state("a").coolingForMs(h.clock.now)).toBe(10_000);
    // The caller is told the capped wait too, not a day.
    expect(r.error?.metadata.get(RETRY_AFTER_MS_HEADER)).toBe("10000");
    expect(r.error?.metadata.get(RETRY_AFTER_HEADER)).toBe("10");
  });

  it("a 429 without Retry-After cools for cooldown.default_ms", async () => {
    const h = harness({ a: refusing(429) }, { cooldown: { default_ms: 1_500 } });
    await outcome(h.runner, request());
    expect(h.state("a").coolingForMs(h.clock.now)).toBe(1_500);
  });

  it("a 503 with Retry-After cools; a 500 without one does not", async () => {
    const h = harness({ a: refusing(503, 700), b: refusing(500) });
    await outcome(h.runner, probe("a"));
    await outcome(h.runner, probe("b"));
    expect(h.state("a").coolingForMs(h.clock.now)).toBe(700);
    expect(h.state("b").coolingForMs(h.clock.now)).toBe(0);
  });

  it("a shorter wait never cuts a running cool-down short", async () => {
    const h = harness({ a: refusing(429, 5_000) });
    h.state("a").coolDown("rate_limited", 5_000, h.clock.now);
    h.state("a").coolDown("rate_limited", 1_000, h.clock.now);
    expect(h.state("a").coolingForMs(h.clock.now)).toBe(5_000);
  });
});

describe("canary probe requests", () => {
  it("are the smallest request: the probe's prompt alone (no system prompt) and its max_tokens, marked as a probe", async () => {
    const sent: ProviderRequest[] = [];
    const h = harness(
      {
        a: async function* (req) {
          sent.push(req);
          yield { type: "done", finishReason: "length", usage: { promptTokens: 5, completionTokens: 1 } };
        },
      },
      { prompt: { system: "You are the gold tier for {{tenant}}." } },
    );
    const req = probe("a");
    req.input.maxTokens = 1;
    await outcome(h.runner, req);
    await outcome(h.runner, request());
    expect(sent[0]).toMatchObject({ maxTokens: 1, probe: true, messages: [{ role: "user", content: "Say hello." }] });
    expect(sent[1]!.probe).toBeUndefined();
    expect(sent[1]!.messages[0]).toEqual({ role: "system", content: "You are the gold tier for acme." });
  });

  it("are counted per deployment in /metrics: calls, their cost, refusals inside a cool-down", async () => {
    const h = harness({ a: answering(0), b: refusing(429, 2_000) });
    const metrics = createExecutorMetrics("gold", () => h.runner);
    await outcome(h.runner, probe("a"));
    await outcome(h.runner, probe("a"));
    await outcome(h.runner, probe("b"));
    await outcome(h.runner, probe("b"));
    await outcome(h.runner, request());
    const text = await metrics.metrics();
    const value = (name: string, id: string) => Number(new RegExp(`${name}\\{deployment="${id}"[^}]*\\} ([\\d.e-]+)`).exec(text)?.[1]);
    expect(value("tiermesh_executor_probes_total", "a")).toBe(2);
    expect(value("tiermesh_executor_probes_total", "b")).toBe(1);
    expect(value("tiermesh_executor_probes_refused_total", "b")).toBe(1);
    // 11 prompt + 2 completion tokens at 1 and 2 $/Mtok, twice; the refused 429 cost nothing.
    expect(value("tiermesh_executor_probe_cost_usd_total", "a")).toBeCloseTo(2 * 15e-6, 12);
    expect(value("tiermesh_executor_probe_cost_usd_total", "b")).toBe(0);
  });
});

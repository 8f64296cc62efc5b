import { completionTokens } from "@tiermesh/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, routerClient, unary } from "../support/grpc-clients.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";

/**
 * Faults seen through the router's edges: a stream cut mid-answer, a full tier bulkhead,
 * and urgency sent as a header.
 */
describe("faults through the router's edges", () => {
  let m: RunningMesh;
  let client: ReturnType<typeof routerClient>;

  beforeAll(async () => {
    m = await startMesh({
      tiers: [
        { name: "gold", rank: 3, fallback: "silver", model: "sim-gold", bulkhead: { max_concurrency: 1, max_queue: 0 } },
        { name: "silver", rank: 2, fallback: "bronze", model: "sim-silver" },
        { name: "bronze", rank: 1, model: "sim-bronze" },
      ],
      patch(raw) {
        // Gold only: the floor keeps in-request fallback from hiding gold's own answers.
        raw.plans.enterprise.min_tier = "gold";
        raw.simulator.models["sim-gold"].output_tokens = { min: 40, max: 40 };
        raw.simulator.models["sim-gold"].inter_token_ms = { median: 5, p99: 5 };
      },
    });
    client = routerClient(m.routerUrl);
  });
  afterAll(async () => {
    client?.close();
    await m?.stop();
  });

  it("a stream cut after the first tokens ends with an error on gRPC, never a clean end", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 1 });
    try {
      const call = client["CompleteStream"]({ input: { messages: [{ role: "user", content: "long answer" }] } }, new grpc.Metadata());
      const deltas: string[] = [];
      let done = false;
      const error = await (async () => {
        try {
          for await (const msg of call as AsyncIterable<{ event: string; delta?: string }>) {
            if (msg.event === "delta") deltas.push(msg.delta!);
            else done = true;
          }
          return undefined;
        } catch (err) {
          return err as grpc.ServiceError;
        }
      })();
      expect(deltas.length).toBeGreaterThan(0);
      expect(done).toBe(false);
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toContain("stream interrupted after the first token");
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 0 });
    }
  });

  it("...and with an error event and no [DONE] on the HTTP edge", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 1 });
    try {
      const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "long answer" }], stream: true }),
      });
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text).toContain('"content":');
      expect(text).not.toContain("[DONE]");
      expect(text.trimEnd().split("\n\n").at(-1)).toMatch(/^event: error\ndata: .*stream interrupted/);
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { stream_cut_rate: 0 });
    }
  });

  it("a full tier is refused with RESOURCE_EXHAUSTED on gRPC and 429 + Retry-After on HTTP", async () => {
    await patchModel(m.simulatorUrl, "sim-gold", { ttft_ms: { median: 1_000, p99: 1_000 } });
    try {
      const hold = unary(client, "Complete", { input: { messages: [{ role: "user", content: "hold the slot" }] } });
      await new Promise((r) => setTimeout(r, 200));
      await expect(unary(client, "Complete", { input: { messages: [{ role: "user", content: "no room" }] } })).rejects.toMatchObject({
        code: grpc.status.RESOURCE_EXHAUSTED,
      });
      const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "no room" }] }),
      });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      await hold;
    } finally {
      await patchModel(m.simulatorUrl, "sim-gold", { ttft_ms: { median: 5, p99: 20 } });
    }
  });

  it("takes urgency from the x-tiermesh-urgency header when the field is empty", async () => {
    const md = new grpc.Metadata();
    md.set("x-tiermesh-urgency", "sometime");
    await expect(unary(client, "Complete", { input: { messages: [{ role: "user", content: "hi" }] } }, md)).rejects.toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      details: expect.stringContaining('unknown urgency "sometime"'),
    });
  });
});

interface Routing {
  requested_tier: string;
  served_tier: string;
  reasons: string[];
  continuations: number;
}

interface Completion {
  content: string;
  finish_reason: string;
  routing: Routing;
  model: string;
  usage: { prompt_tokens: number; completion_tokens: number; estimated: boolean };
}

interface StreamOutcome {
  text: string;
  done?: Completion;
  error?: grpc.ServiceError;
  deltas: string[];
  /** performance.now() at the call and at each delta. */
  started: number;
  at: number[];
}

/** A gRPC error's message; grpc-js leaves reserved characters (":") percent-encoded. */
const messageOf = (err: grpc.ServiceError | undefined) => decodeURIComponent(err?.details ?? "");

/** The simulator's own answer of `n` tokens: a continued answer must be exactly this. */
const answerOf = (n: number) => completionTokens(n).join("");

/**
 * Mid-answer faults of gold's provider, through the whole mesh: interrupted answers continue
 * on silver (or bronze) from the text so far, stalls are cut at the stall threshold, malformed
 * chunks are skipped, and a missing [DONE] is accepted. Gold answers 40 tokens; a continuation
 * adds 20, so a seamless answer is exactly the simulator's first 40 words.
 */
describe("interrupted answers continued across tiers", () => {
  let m: RunningMesh;
  let client: ReturnType<typeof routerClient>;
  const ask = { input: { messages: [{ role: "user", content: "A long answer, please." }] } };

  beforeAll(async () => {
    // Gold's failures here are on purpose: they must not take gold down or open its breaker.
    const steady = { window_ms: 5_000, min_samples: 1_000, consecutive_failures_down: 1_000, error_rate_degraded: 1, error_rate_down: 1 };
    m = await startMesh({
      tiers: [
        { name: "gold", rank: 3, fallback: "silver", model: "sim-gold", slo: steady, timeouts: { attempt_ms: 10_000, ttft_ms: 2_000 } },
        { name: "silver", rank: 2, fallback: "bronze", model: "sim-silver", slo: steady },
        { name: "bronze", rank: 1, model: "sim-bronze", slo: steady },
      ],
      patch(raw) {
        raw.providers.sim.continuation = "prefix";
        // Probes would meet the faults too; this suite is about callers.
        raw.health_monitor.probe.interval_ms = 0;
        raw.tiers.gold.breaker = { min_requests: 1_000 };
        raw.tiers.gold.stall = { inter_token: { min_ms: 300, max_ms: 600 } };
        for (const model of ["sim-gold", "sim-silver", "sim-bronze"]) {
          raw.simulator.models[model].output_tokens = model === "sim-gold" ? { min: 40, max: 40 } : { min: 20, max: 20 };
          raw.simulator.models[model].inter_token_ms = { median: 3, p99: 3 };
        }
      },
    });
    client = routerClient(m.routerUrl);
    // History for gold's inter-token pace.
    for (let i = 0; i < 3; i++) await unary(client, "Complete", ask);
  });
  afterAll(async () => {
    client?.close();
    await m?.stop();
  });

  async function withGold<T>(fault: Record<string, unknown>, run: () => Promise<T>, others: Record<string, unknown> = {}): Promise<T> {
    await patchModel(m.simulatorUrl, "sim-gold", { fault_after_tokens: 20, ...fault });
    for (const model of ["sim-silver", "sim-bronze"]) await patchModel(m.simulatorUrl, model, others);
    try {
      return await run();
    } finally {
      await fetch(`${m.simulatorUrl}/admin/reset`, { method: "POST" });
    }
  }

  async function streamed(): Promise<StreamOutcome> {
    const call = client["CompleteStream"](ask, new grpc.Metadata(), { deadline: Date.now() + 20_000 });
    const out: StreamOutcome = { text: "", deltas: [], started: performance.now(), at: [] };
    try {
      for await (const msg of call as AsyncIterable<{ event: string; delta?: string; done?: Completion }>) {
        if (msg.event === "delta") {
          out.text += msg.delta!;
          out.deltas.push(msg.delta!);
          out.at.push(performance.now());
        } else out.done = msg.done;
      }
    } catch (err) {
      out.error = err as grpc.ServiceError;
    }
    return out;
  }

  /** A metric of gold's executor for its deployment, from /metrics. */
  async function goldMetric(name: string): Promise<number> {
    const text = await (await fetch(`${m.executorUrls["gold"]}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes('deployment="sim/sim-gold"'));
    return Number(line?.split(" ").at(-1));
  }

  const GOLD_CUT = { stream_cut_rate: 1 };

  it("streaming: a cut stream is continued seamlessly on silver (exact text, no gap or repeat)", async () => {
    const out = await withGold(GOLD_CUT, streamed);
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(answerOf(40));
    expect(out.done?.routing.served_tier).toBe("silver");
    expect(out.done?.routing.continuations).toBe(1);
    expect(out.done?.routing.reasons.join("\n")).toMatch(
      /gold's stream failed after \d+ characters reached the caller .*; continued on silver/,
    );
  });

  it("HTTP edge: a cut stream is continued seamlessly and ends with [DONE]", async () => {
    const body = await withGold(GOLD_CUT, async () => {
      const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: ask.input.messages, stream: true }),
      });
      expect(res.status).toBe(200);
      return res.text();
    });
    const events = body.trimEnd().split("\n\n");
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events
      .slice(0, -1)
      .map((e) => JSON.parse(e.replace(/^data: /, "")) as { choices: { delta: { content?: string } }[]; tiermesh?: Routing });
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe(answerOf(40));
    expect(chunks.at(-1)?.tiermesh).toMatchObject({ served_tier: "silver", continuations: 1 });
  });

  it("unary: a cut answer is continued on silver and returned whole", async () => {
    const res = await withGold(GOLD_CUT, () => unary<Completion>(client, "Complete", ask));
    expect(res.content).toBe(answerOf(40));
    expect(res.routing.served_tier).toBe("silver");
    expect(res.routing.continuations).toBe(1);
    expect(res.finish_reason).toBe("stop");
  });

  it("a target that refuses the prefix: a streaming caller gets gold's original error, not the refusal; a unary one a restarted answer", async () => {
    const refuse = { refuse_prefix: true };
    await fetch(`${m.simulatorUrl}/admin/requests`, { method: "DELETE" });
    const out = await withGold(GOLD_CUT, streamed, refuse);
    // Both lower tiers were asked to continue, and refused.
    const log = (await (await fetch(`${m.simulatorUrl}/admin/requests`)).json()) as Record<string, { recent: { answer: string }[] }>;
    for (const model of ["sim-silver", "sim-bronze"]) expect(log[model]?.recent.map((r) => r.answer)).toEqual(["prefix_refused"]);
    expect(out.text).toBe(answerOf(20));
    expect(out.done).toBeUndefined();
    expect(out.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(messageOf(out.error)).toMatch(/^tier gold: stream interrupted after the first token: sim: /);
    expect(messageOf(out.error)).not.toMatch(/prefill|prefix/);

    // A unary caller has seen none of the cut answer: with no tier able to continue it, it is
    // restarted from scratch on the next tier rather than failed.
    const res = await withGold(GOLD_CUT, () => unary<Completion>(client, "Complete", ask), refuse);
    expect(res.routing.served_tier).toBe("silver");
    expect(res.content).toBe(answerOf(20));
    expect(res.routing.reasons.join("\n")).toMatch(/could not be continued; the caller had seen none of it, so it restarts/);
  });

  it("a stream that stalls with its connection open is cut at the inter-token stall threshold and continued", async () => {
    const thresholdMetric = "tiermesh_executor_inter_token_stall_threshold_ms";
    const before = await goldMetric(thresholdMetric);
    const out = await withGold({ stream_stall_rate: 1 }, streamed);
    // The stream's own gaps may move the threshold a little: it was between these two.
    const after = await goldMetric(thresholdMetric);
    const [low, high] = [Math.min(before, after), Math.max(before, after)];
    expect(low).toBeGreaterThanOrEqual(300);
    expect(high).toBeLessThanOrEqual(600);
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(answerOf(40));
    expect(out.done?.routing.served_tier).toBe("silver");
    // The executor cuts gold's stream one threshold (300..600 ms here) after its 20th token,
    // so silver's first text comes after that, and long before the 10 s attempt limit. (The
    // gap the caller sees before it is that threshold give or take delivery lag.) Text is
    // sent in batches: silver's first delta is the first to go past gold's 20 tokens.
    const goldPart = answerOf(20).length;
    let sent = 0;
    const k = out.deltas.findIndex((d) => (sent += d.length) > goldPart);
    expect(k).toBeGreaterThan(0);
    const silverFirst = out.at[k]! - out.started;
    expect(silverFirst).toBeGreaterThanOrEqual(low);
    expect(silverFirst).toBeLessThan(high + 1_500);
    expect(out.at[k]! - out.at[k - 1]!).toBeGreaterThan(low / 2);
    expect(await goldMetric("tiermesh_executor_stream_stalls_total")).toBeGreaterThanOrEqual(1);

    const started = performance.now();
    const res = await withGold({ stream_stall_rate: 1 }, () => unary<Completion>(client, "Complete", ask));
    expect(res.content).toBe(answerOf(40));
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("a malformed chunk mid-stream is skipped and counted; gold finishes its answer", async () => {
    const out = await withGold({ malformed_chunk_rate: 1 }, streamed);
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(answerOf(40));
    expect(out.done?.routing.served_tier).toBe("gold");
    expect(out.done?.routing.continuations).toBe(0);
    const res = await withGold({ malformed_chunk_rate: 1 }, () => unary<Completion>(client, "Complete", ask));
    expect(res.content).toBe(answerOf(40));
    expect(res.routing.served_tier).toBe("gold");
    expect(await goldMetric("tiermesh_executor_malformed_chunks_total")).toBeGreaterThanOrEqual(2);
  });

  it("an answer that ends with its finish reason and usage but no [DONE] is accepted, with that usage", async () => {
    const out = await withGold({ missing_done_rate: 1 }, streamed);
    expect(out.error).toBeUndefined();
    expect(out.text).toBe(answerOf(40));
    expect(out.done?.routing.served_tier).toBe("gold");
    expect(out.done?.usage).toMatchObject({ completion_tokens: 40, estimated: false });
    const res = await withGold({ missing_done_rate: 1 }, () => unary<Completion>(client, "Complete", ask));
    expect(res.content).toBe(answerOf(40));
    expect(res.usage).toMatchObject({ completion_tokens: 40, estimated: false });
    expect(res.finish_reason).toBe("stop");
  });
});

import { createClient } from "@connectrpc/connect";
import { HealthMonitorService, TierState } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, routerClient, unary } from "../support/grpc-clients.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";

// Capability-aware routing on context length, through the real mesh: windows declared in
// config decide where a long prompt goes before any provider call, and a provider whose real
// window is smaller than config says (the simulator's own `context_window`) answers OpenAI's
// 400 context_length_exceeded, which sends the request to a larger model.

const price = (rank: number) => ({ input_per_mtok: rank, output_per_mtok: rank * 3 });
const fast = { ttft_ms: { median: 2, p99: 5 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 4, max: 8 } };

/** About `tokens` o200k tokens (" hello" is one); the simulator, at 4 characters a token, counts it at 1.5 times that. */
const longPrompt = (tokens: number) => "hello ".repeat(tokens);

/** What the simulator logged for one model (`GET /admin/requests`). */
interface Counts {
  requests: number;
  recent: { answer: string }[];
}

describe("routing on context length", () => {
  let m: RunningMesh;
  let grpcRouter: ReturnType<typeof routerClient>;

  const requests = async (): Promise<Record<string, Counts>> =>
    (await fetch(`${m.simulatorUrl}/admin/requests`)).json() as Promise<Record<string, Counts>>;
  const calls = (counts: Record<string, Counts>, model: string) => counts[model]?.requests ?? 0;
  const refusals = (counts: Record<string, Counts>, model: string) =>
    counts[model]?.recent.filter((r) => r.answer === "context_length_exceeded").length ?? 0;
  const post = (content: string, extra: Record<string, unknown> = {}) =>
    fetch(`${m.routerUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content }], ...extra }),
    });

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        // No canary probes: every provider call counted by the simulator is a caller's.
        raw.health_monitor.probe = { interval_ms: 0 };
        raw.plans.enterprise = { default_tier: "silver", max_tier: "gold" };
        raw.tiers.gold.models = [{ provider: "sim", model: "sim-gold", price: price(3), context_window: 32_000 }];
        raw.tiers.silver.models = [
          { id: "silver-small", provider: "sim", model: "sim-silver", weight: 100, price: price(2), context_window: 4_000 },
          { id: "silver-large", provider: "sim", model: "sim-silver-xl", weight: 1, price: price(2), context_window: 12_000 },
        ];
        raw.tiers.bronze.models = [{ provider: "sim", model: "sim-bronze", price: price(1), context_window: 2_000 }];
        // A tier that counted refusals for length as failures would be down after three.
        raw.tiers.silver.slo = {
          window_ms: 5_000,
          min_samples: 3,
          consecutive_failures_down: 3,
          recovery_successes: 3,
          min_dwell_ms: 1_000,
        };
        raw.tiers.silver.breaker = { min_requests: 3, failure_ratio: 0.5 };
        raw.simulator.models = {
          "sim-gold": { ...fast, context_window: 32_000 },
          "sim-silver": { ...fast, context_window: 4_000 },
          "sim-silver-xl": { ...fast, context_window: 12_000 },
          "sim-bronze": { ...fast, context_window: 2_000 },
        };
      },
    });
    grpcRouter = routerClient(m.routerUrl);
  });
  afterAll(async () => {
    grpcRouter?.close();
    await m?.stop();
  });

  it("serves a prompt too long for a tier's small deployment from its larger one, without calling the small one", async () => {
    const before = await requests();
    const res = await post(longPrompt(3_000), { max_tokens: 1_500 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.tiermesh.served_tier).toBe("silver");
    expect(body.model).toBe("sim-silver-xl");
    expect(body.tiermesh.reasons.join("\n")).toMatch(
      /silver serves it from its larger deployments: 4,5\d\d tokens do not fit silver-small \(4,000 tokens\)/,
    );
    const after = await requests();
    expect(calls(after, "sim-silver") - calls(before, "sim-silver")).toBe(0);
    expect(calls(after, "sim-silver-xl") - calls(before, "sim-silver-xl")).toBe(1);
    // Short ones still go to the small deployment (weight 100 to 1: about 1 in 100 goes to the
    // large one, so 3 or more of 10 would be about 1 in 10,000).
    const models: string[] = [];
    for (let i = 0; i < 10; i++) models.push(((await (await post("hello", { max_tokens: 16 })).json()) as any).model);
    expect(models.filter((model) => model === "sim-silver").length).toBeGreaterThanOrEqual(8);
  });

  it("sends a prompt too long for every deployment of its tier to the larger tier before any call, and says why", async () => {
    const before = await requests();
    const res = await post(longPrompt(14_000), { max_tokens: 1_500 });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.tiermesh.requested_tier).toBe("silver");
    expect(body.tiermesh.served_tier).toBe("gold");
    expect(body.model).toBe("sim-gold");
    expect(body.tiermesh.reasons.join("\n")).toMatch(
      /prompt of 14,0\d\d tokens plus max_tokens 1,500 exceeds silver's largest context window \(12,000 tokens, model sim-silver-xl\); routed to gold \(context window 32,000 tokens, model sim-gold\)/,
    );
    const after = await requests();
    for (const model of ["sim-silver", "sim-silver-xl", "sim-bronze"]) expect(calls(after, model) - calls(before, model), model).toBe(0);
    expect(calls(after, "sim-gold") - calls(before, "sim-gold")).toBe(1);
  });

  it("answers 200 from the larger tier when a provider refuses for length although config said it fits, and the refusing deployment stays healthy", async () => {
    // sim-silver-xl really takes 6,000 tokens, not the 12,000 config declares.
    await patchModel(m.simulatorUrl, "sim-silver-xl", { context_window: 6_000 });
    const status = await watchStatus(m.mesh.natsUrl);
    const since = Date.now();
    const before = await requests();
    try {
      // About 5,000 tokens to the router (fits silver-large by config), 7,500 to the simulator.
      for (let i = 0; i < 8; i++) {
        const res = await post(longPrompt(5_000), { max_tokens: 1_000 });
        expect(res.status).toBe(200);
        const body = (await res.json()) as any;
        expect(body.tiermesh.served_tier).toBe("gold");
        expect(body.model).toBe("sim-gold");
        expect(body.tiermesh.reasons.join("\n")).toMatch(
          /silver refused the prompt's length \(.*maximum context length is 6000 tokens.*\); tried gold, which has a larger context window/,
        );
      }
      // Streaming too: the caller sees one clean answer from gold.
      const streamed = await post(longPrompt(5_000), { max_tokens: 1_000, stream: true });
      expect(streamed.status).toBe(200);
      const events = (await streamed.text()).split("\n\n").filter(Boolean);
      expect(events.at(-1)).toBe("data: [DONE]");
      expect(JSON.parse(events.at(-2)!.replace(/^data: /, "")).model).toBe("sim-gold");
    } finally {
      await patchModel(m.simulatorUrl, "sim-silver-xl", { context_window: 12_000 });
    }
    const after = await requests();
    expect(refusals(after, "sim-silver-xl") - refusals(before, "sim-silver-xl")).toBe(9);
    expect(calls(after, "sim-silver") - calls(before, "sim-silver")).toBe(0);
    // The executor's breaker for the refusing deployment is closed, and it still serves.
    const metrics = await (await fetch(`${m.executorUrls["silver"]}/metrics`)).text();
    expect(metrics).toMatch(/tiermesh_executor_breaker_state\{[^}]*deployment="silver-large"[^}]*\} 0/);
    const res = await post(longPrompt(3_000), { max_tokens: 1_500 });
    expect(((await res.json()) as any).model).toBe("sim-silver-xl");
    // The monitor counted none of the refusals against the deployment or the tier.
    await new Promise((r) => setTimeout(r, 300));
    const monitor = createClient(HealthMonitorService, createMeshTransport(m.monitorUrl));
    const silver = (await monitor.getStatus({})).tiers.find((t) => t.tier === "silver")!;
    expect(silver.state).not.toBe(TierState.DOWN);
    expect(silver.state).not.toBe(TierState.DEGRADED);
    const large = silver.deployments.find((d) => d.deployment === "silver-large");
    expect(large?.sli?.errorRate ?? 0).toBe(0);
    const bad = status.events.filter((e) => e.receivedAt >= since && e.event.tier === "silver" && e.event.state !== TierState.HEALTHY);
    await status.close();
    expect(bad).toEqual([]);
  });

  it("refuses a prompt no allowed model fits with 400 naming the limit, over HTTP and gRPC, without any provider call", async () => {
    const before = await requests();
    const res = await post(longPrompt(40_000), { max_tokens: 1_024 });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as any;
    expect(error).toMatchObject({ type: "invalid_request_error", param: "messages", code: "context_length_exceeded" });
    expect(error.message).toMatch(
      /^prompt of 40,0\d\d tokens plus max_tokens 1,024 exceeds the largest context window allowed for this plan \(32,000 tokens, model sim-gold\)$/,
    );
    // Streaming callers get the same 400 before any event.
    expect((await post(longPrompt(40_000), { stream: true })).status).toBe(400);
    const rpc = await unary(grpcRouter, "Complete", { input: { messages: [{ role: "user", content: longPrompt(40_000) }] } }).then(
      () => undefined,
      (e: grpc.ServiceError) => e,
    );
    expect(rpc?.code).toBe(grpc.status.INVALID_ARGUMENT);
    // grpc-js leaves the status message's percent-encoded commas (%2C) as they came; the spec says decode.
    expect(decodeURIComponent(rpc!.details)).toMatch(
      /^prompt of 40,0\d\d tokens plus max_tokens 256 exceeds the largest context window allowed for this plan \(32,000 tokens, model sim-gold\)$/,
    );
    const after = await requests();
    for (const model of ["sim-gold", "sim-silver", "sim-silver-xl", "sim-bronze"])
      expect(calls(after, model) - calls(before, model), model).toBe(0);
  });
});

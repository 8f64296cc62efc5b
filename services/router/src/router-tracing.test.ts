import * as http from "node:http";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type ServiceImpl } from "@connectrpc/connect";
import { parseConfig, TierLadder } from "@tiermesh/config";
import { compileTierPolicy, policyDocument } from "@tiermesh/policy";
import { ExecuteResponseSchema, TierExecutorService, TierState } from "@tiermesh/proto";
import { clientTracing, createInProcessTransport, serverTracing, withInterceptors } from "@tiermesh/runtime";
import { SpanKind, tracerFor } from "@tiermesh/telemetry";
import { startTestTracing, type ReadableSpan, type TestTracing } from "@tiermesh/telemetry/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ApiKeyAuth } from "./api-key-auth.js";
import { ContextFit } from "./context-fit.js";
import { createOpenAIEdge } from "./openai-edge.js";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { RouterCore } from "./router-core.js";
import { RoutingPolicy } from "./routing-policy.js";

// The router's spans, from the HTTP edge to the executors (in process, with their server spans).

const config = parseConfig(
  `
router: { listen: "127.0.0.1:7400", anonymous_tenant: acme }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 2, fallback: silver, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
  silver: { rank: 1, executor: { listen: "127.0.0.1:7411" }, models: [{ provider: sim, model: s, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: { enterprise: { default_tier: gold, max_tier: gold } }
tenants: { acme: { plan: enterprise }, paying: { plan: enterprise, api_key_sha256: ["${"a".repeat(64)}"] } }
`,
  "t.yaml",
  {},
);

let tracing: TestTracing;
let server: http.Server;
let url: string;
const failing = new Set<string>();

beforeAll(async () => {
  tracing = await startTestTracing();
  const tracer = tracerFor("router");
  const executor = (tier: string): ServiceImpl<typeof TierExecutorService> => ({
    execute() {
      if (failing.has(tier)) throw new ConnectError("provider down", Code.Unavailable);
      return create(ExecuteResponseSchema, {
        tier,
        model: tier,
        content: `hi from ${tier}`,
        finishReason: "stop",
        costUsd: 0.002,
        attempts: 1,
      });
    },
    async *executeStream() {
      throw new ConnectError("not used", Code.Unimplemented);
    },
  });
  const executors = new Map(
    ["gold", "silver"].map((tier) => {
      const inProcess = createInProcessTransport(TierExecutorService, executor(tier), {
        interceptors: serverTracing(tracerFor("tier-executor", { "tiermesh.tier": tier })),
      });
      return [
        tier,
        createClient(TierExecutorService, withInterceptors(inProcess, clientTracing(tracer, { attributes: { "tiermesh.tier": tier } }))),
      ];
    }),
  );
  const ladder = new TierLadder(config.tiers);
  const view = () => ({ state: TierState.HEALTHY, reason: "test", source: "status" as const });
  const classify = compileTierPolicy(policyDocument(config));
  const core = new RouterCore({
    auth: () => new ApiKeyAuth(config),
    classify: () => classify,
    executors,
    tiers: config.tiers,
    policy: new RoutingPolicy(config, ladder, view),
    context: new ContextFit(config.tiers, ladder, () => TierState.HEALTHY),
    passive: new PassiveTierBreaker(),
    defaultTimeoutMs: 5_000,
    maxAttempts: 4,
    tracer,
  });
  server = http.createServer(createOpenAIEdge(core, () => undefined, tracer));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/v1/chat/completions`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  await tracing.stop();
});
afterEach(() => {
  failing.clear();
  tracing.reset();
});

const CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const CALLER_SPAN = "00f067aa0ba902b7";

async function ask(headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, ...headers },
    body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }] }),
  });
  await res.text();
  // The edge's span ends when the response closes, just after the body is read.
  await new Promise((r) => setTimeout(r, 20));
  return res.status;
}

const one = (spans: ReadableSpan[], test: (s: ReadableSpan) => boolean) => {
  const found = spans.filter(test);
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe("router tracing", () => {
  it("the HTTP span joins the caller's trace; the route span under it holds the tier decision; executor calls are its children", async () => {
    expect(await ask()).toBe(200);
    const spans = tracing.spans();
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([CALLER_TRACE]));
    const edge = one(spans, (s) => s.kind === SpanKind.SERVER && s.name === "POST /v1/chat/completions");
    expect(edge.parentSpanContext?.spanId).toBe(CALLER_SPAN);
    expect(edge.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/v1/chat/completions",
      "http.response.status_code": 200,
    });
    const route = one(spans, (s) => s.name === "route");
    expect(route.parentSpanContext?.spanId).toBe(edge.spanContext().spanId);
    expect(route.attributes).toMatchObject({
      "tiermesh.tenant": "acme",
      "tiermesh.plan": "enterprise",
      "tiermesh.tier.requested": "gold",
      "tiermesh.tier.routed": "gold",
      "tiermesh.tier.served": "gold",
      "tiermesh.fallback": false,
      "tiermesh.promoted": false,
      "tiermesh.cost_usd": 0.002,
    });
    expect(route.attributes["tiermesh.reasons"]).toContain("plan enterprise default tier gold");
    const call = one(spans, (s) => s.kind === SpanKind.CLIENT);
    expect(call.parentSpanContext?.spanId).toBe(route.spanContext().spanId);
    expect(call.attributes["tiermesh.tier"]).toBe("gold");
    const served = one(spans, (s) => s.kind === SpanKind.SERVER && s.name.endsWith("/Execute"));
    expect(served.parentSpanContext?.spanId).toBe(call.spanContext().spanId);
    expect(served.resource.attributes["service.name"]).toBe("tiermesh-tier-executor");
  });

  it("a fallback shows as a failed call to one tier and a served one on the next, and on the route span", async () => {
    failing.add("gold");
    expect(await ask()).toBe(200);
    const spans = tracing.spans();
    const calls = spans
      .filter((s) => s.kind === SpanKind.CLIENT)
      .map((s) => [s.attributes["tiermesh.tier"], s.attributes["rpc.status_code"]]);
    expect(calls).toEqual([
      ["gold", "UNAVAILABLE"],
      ["silver", "OK"],
    ]);
    const route = one(spans, (s) => s.name === "route");
    expect(route.attributes).toMatchObject({
      "tiermesh.tier.requested": "gold",
      "tiermesh.tier.served": "silver",
      "tiermesh.fallback": true,
      "tiermesh.tier_attempts": 2,
    });
  });

  it("a request refused before routing ends its route span as failed, and the HTTP span with its status", async () => {
    expect(await ask({ authorization: "Bearer not-a-key" })).toBe(401);
    const spans = tracing.spans();
    const route = one(spans, (s) => s.name === "route");
    expect(route.status.code).toBe(2);
    expect(route.attributes["error.type"]).toBe("Unauthenticated");
    const edge = one(spans, (s) => s.kind === SpanKind.SERVER);
    expect(edge.attributes["http.response.status_code"]).toBe(401);
    expect(spans.filter((s) => s.kind === SpanKind.CLIENT)).toEqual([]);
  });
});

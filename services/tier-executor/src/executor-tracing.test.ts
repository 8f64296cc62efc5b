import { createClient } from "@connectrpc/connect";
import { TierExecutorService } from "@tiermesh/proto";
import { createInProcessTransport, serverTracing } from "@tiermesh/runtime";
import { SpanKind, spanContextOf, tracerFor } from "@tiermesh/telemetry";
import { startTestTracing, type TestTracing } from "@tiermesh/telemetry/testing";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createTierExecutorService } from "./executor-service.js";
import { answering, failing, FakeProvider, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import type { ProviderAdapter, ProviderRequest } from "./providers/provider-adapter.js";
import { TierRunner } from "./tier-runner.js";

// The executor's spans: the RPC's server span, and under it one GenAI client span per provider call.

let tracing: TestTracing;
beforeAll(async () => {
  tracing = await startTestTracing();
});
afterAll(() => tracing.stop());
afterEach(() => tracing.reset());

/** The provider, keeping every request it is sent. */
function recording(provider: FakeProvider, requests: ProviderRequest[]): ProviderAdapter {
  return {
    name: provider.name,
    baseUrl: provider.baseUrl,
    continuesPrefix: provider.continuesPrefix,
    close: () => provider.close(),
    stream: (request, signal) => (requests.push(request), provider.stream(request, signal)),
  };
}

function executor(models: Record<string, Behaviour>, tier: Record<string, unknown> = {}) {
  const outcomes: OutcomeInit[] = [];
  const requests: ProviderRequest[] = [];
  const tracer = tracerFor("tier-executor", { "tiermesh.tier": "gold" });
  const provider = new FakeProvider(models);
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), tier),
    providers: new Map([["fake", recording(provider, requests)]]),
    report: (o) => outcomes.push(o),
    random: () => 0,
    tracer,
  });
  const service = createTierExecutorService({ tierName: "gold", runner, defaultTimeoutMs: 5_000 });
  const client = createClient(
    TierExecutorService,
    createInProcessTransport(TierExecutorService, service, { interceptors: serverTracing(tracer) }),
  );
  return { client, outcomes, requests };
}

const input = { messages: [{ role: "user", content: "Say hello." }], maxTokens: 8, temperature: 0.5 };

describe("executor tracing", () => {
  it("a provider call is a GenAI client span under the RPC's server span, its context sent to the provider and with the outcome", async () => {
    const { client, outcomes, requests } = executor({ a: answering(5) });
    await client.execute({ tier: "gold", tenant: "acme", input });
    const [server] = tracing.spans().filter((s) => s.kind === SpanKind.SERVER);
    const [chat] = tracing.spans().filter((s) => s.name === "chat a");
    expect(chat!.kind).toBe(SpanKind.CLIENT);
    expect(chat!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(chat!.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": "fake",
      "gen_ai.request.model": "a",
      "gen_ai.request.max_tokens": 8,
      "gen_ai.request.temperature": 0.5,
      "gen_ai.response.model": "a",
      "gen_ai.response.finish_reasons": ["stop"],
      "gen_ai.usage.input_tokens": 11,
      "gen_ai.usage.output_tokens": 2,
      "server.address": "fake.invalid",
      "server.port": 8080,
      "tiermesh.tier": "gold",
      "tiermesh.deployment": "a",
      "tiermesh.outcome.status": "OK",
    });
    expect(chat!.attributes["gen_ai.response.time_to_first_chunk"]).toBeGreaterThan(0);
    expect(chat!.resource.attributes["tiermesh.tier"]).toBe("gold");
    // The provider got the span's own context; the monitor will get it with the outcome.
    expect(requests[0]!.headers?.["traceparent"]).toContain(chat!.spanContext().spanId);
    const reported = spanContextOf({ traceparent: outcomes[0]!.traceparent ?? "", tracestate: outcomes[0]!.tracestate ?? "" });
    expect(reported?.spanId).toBe(chat!.spanContext().spanId);
  });

  it("a retried request has one span per attempt; the failed one is an error with the failure's kind", async () => {
    const { client } = executor({ a: failing(), b: answering(5) }, { retries: { max_attempts: 2, backoff_ms: 1 } });
    await client.execute({ tier: "gold", tenant: "acme", input });
    const chats = tracing.spans().filter((s) => s.name.startsWith("chat "));
    expect(chats.map((s) => [s.name, s.attributes["tiermesh.outcome.status"], s.status.code, s.attributes["error.type"]])).toEqual([
      ["chat a", "ERROR", 2, "server"],
      ["chat b", "OK", 0, undefined],
    ]);
  });

  it("while tracing is off, no header goes to the provider and the outcome carries no context", async () => {
    const provider = new FakeProvider({ a: answering(1) });
    const requests: ProviderRequest[] = [];
    const outcomes: OutcomeInit[] = [];
    const runner = new TierRunner({
      tierName: "gold",
      tier: tierOf(["a"]),
      providers: new Map([["fake", recording(provider, requests)]]),
      report: (o) => outcomes.push(o),
    });
    const client = createClient(
      TierExecutorService,
      createInProcessTransport(TierExecutorService, createTierExecutorService({ tierName: "gold", runner, defaultTimeoutMs: 5_000 })),
    );
    await client.execute({ tier: "gold", tenant: "acme", input });
    expect(requests[0]!.headers).toBeUndefined();
    expect(outcomes[0]!.traceparent).toBeUndefined();
    expect(tracing.spans()).toEqual([]);
  });
});

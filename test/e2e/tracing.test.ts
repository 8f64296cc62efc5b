import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startOtlpReceiver, type ReceivedSpan } from "../support/otlp-receiver.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

// One request's trace across the mesh, as exported over OTLP/HTTP by every process (or by the one
// process of the one-process mode) to a receiver this test runs.

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const CALLER = "b7ad6b7169203331";
const KIND = { internal: 1, server: 2, client: 3, producer: 4, consumer: 5 };

describe("tracing across the mesh", () => {
  let m: RunningMesh;
  let receiver: Awaited<ReturnType<typeof startOtlpReceiver>>;

  beforeAll(async () => {
    receiver = await startOtlpReceiver();
    m = await startMesh({
      patch(raw) {
        raw.observability = { tracing: { enabled: true, endpoint: receiver.url, export_interval_ms: 100 } };
        // No canary probes: their traces would only be noise here.
        raw.health_monitor.probe.interval_ms = 0;
      },
    });
  });
  afterAll(async () => {
    await m?.stop();
    await receiver?.close();
  });

  /** Waits until `ready` holds for the spans received so far. */
  async function until(ready: (spans: ReceivedSpan[]) => boolean, timeoutMs = 15_000): Promise<ReceivedSpan[]> {
    const deadline = Date.now() + timeoutMs;
    while (!ready(receiver.spans)) {
      if (Date.now() > deadline)
        throw new Error(
          `spans received: ${JSON.stringify(
            receiver.spans.map((s) => [s.service, s.name, s.traceId]),
            null,
            1,
          )}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
    return receiver.spans;
  }

  it("one request's spans share the caller's trace id across router, executor and monitor", async () => {
    const res = await fetch(`${m.routerUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: `00-${TRACE}-${CALLER}-01` },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hello" }], max_tokens: 12 }),
    });
    expect(res.status).toBe(200);
    await res.json();

    const inTrace = (spans: ReceivedSpan[]) => spans.filter((s) => s.traceId === TRACE);
    const spans = inTrace(
      await until(
        (all) => new Set(inTrace(all).map((s) => s.service)).size >= 3 && inTrace(all).some((s) => s.service === "tiermesh-health-monitor"),
      ),
    );
    const one = (test: (s: ReceivedSpan) => boolean) => {
      const found = spans.filter(test);
      expect(found, JSON.stringify(spans.map((s) => [s.service, s.name]))).toHaveLength(1);
      return found[0]!;
    };

    const edge = one((s) => s.service === "tiermesh-router" && s.kind === KIND.server);
    expect(edge.name).toBe("POST /v1/chat/completions");
    expect(edge.parentSpanId).toBe(CALLER);
    const route = one((s) => s.name === "route");
    expect(route.parentSpanId).toBe(edge.spanId);
    expect(route.attributes).toMatchObject({
      "tiermesh.tenant": "acme",
      "tiermesh.plan": "enterprise",
      "tiermesh.tier.requested": "gold",
      "tiermesh.tier.served": "gold",
    });
    const call = one((s) => s.service === "tiermesh-router" && s.kind === KIND.client);
    expect(call.parentSpanId).toBe(route.spanId);
    expect(call.attributes["tiermesh.tier"]).toBe("gold");
    const served = one((s) => s.service === "tiermesh-tier-executor" && s.kind === KIND.server);
    expect(served.parentSpanId).toBe(call.spanId);
    expect(served.resource["tiermesh.tier"]).toBe("gold");
    const chat = one((s) => s.name === "chat sim-gold");
    expect(chat.kind).toBe(KIND.client);
    expect(chat.parentSpanId).toBe(served.spanId);
    expect(chat.attributes).toMatchObject({
      "gen_ai.operation.name": "chat",
      "gen_ai.request.model": "sim-gold",
      "gen_ai.request.max_tokens": 12,
      "gen_ai.provider.name": "sim",
    });
    expect(chat.attributes["gen_ai.usage.output_tokens"]).toBeGreaterThan(0);
    const processed = one((s) => s.service === "tiermesh-health-monitor");
    expect(processed.kind).toBe(KIND.consumer);
    expect(processed.parentSpanId).toBe(chat.spanId);
    expect(processed.name).toBe("process tiermesh.outcomes.gold");

    // The batch that carried the outcome is a trace of its own, linked to the attempt, and the monitor's span links to it.
    const all = await until((s) => s.some((x) => x.kind === KIND.producer && x.links.some((l) => l.spanId === chat.spanId)));
    const batch = all.find((s) => s.kind === KIND.producer && s.links.some((l) => l.spanId === chat.spanId))!;
    expect(batch.service).toBe("tiermesh-tier-executor");
    expect(processed.links.map((l) => l.spanId)).toContain(batch.spanId);
  });
});

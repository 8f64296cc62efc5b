import { create } from "@bufbuild/protobuf";
import { OutcomeBatchSchema, OutcomeStatus } from "@tiermesh/proto";
import { SpanKind, traceFieldsOf, tracerFor } from "@tiermesh/telemetry";
import { startTestTracing, type TestTracing } from "@tiermesh/telemetry/testing";
import { startSend } from "@tiermesh/tier-status";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OutcomeTracing } from "./outcome-tracing.js";

let tracing: TestTracing;
beforeAll(async () => {
  tracing = await startTestTracing();
});
afterAll(() => tracing.stop());

describe("OutcomeTracing", () => {
  it("processes each traced outcome in its request's trace, linked to the batch that brought it; untraced ones cost nothing", () => {
    const executor = tracerFor("tier-executor")!;
    const attempt = executor.startSpan("chat a");
    const batch = create(OutcomeBatchSchema, {
      tier: "gold",
      outcomes: [
        { tier: "gold", deployment: "a", status: OutcomeStatus.OK, ...traceFieldsOf(attempt) },
        { tier: "gold", deployment: "a", status: OutcomeStatus.ERROR },
      ],
    });
    const sent = startSend(executor, "tiermesh.outcomes.gold", [attempt.spanContext()]);
    sent.span.end();
    const traced = new OutcomeTracing(tracerFor("health-monitor")!).receive("tiermesh.outcomes.gold", sent.headers, batch)!;
    expect(traced.causes.map((c) => c.spanId)).toEqual([attempt.spanContext().spanId]);
    expect(traced.process(1)).toBeUndefined();
    traced.process(0)!.end();
    const [processed] = tracing.spans().filter((s) => s.kind === SpanKind.CONSUMER);
    expect(processed!.spanContext().traceId).toBe(attempt.spanContext().traceId);
    expect(processed!.parentSpanContext?.spanId).toBe(attempt.spanContext().spanId);
    expect(processed!.links.map((l) => l.context.spanId)).toEqual([sent.span.spanContext().spanId]);
    expect(processed!.attributes).toMatchObject({ "tiermesh.tier": "gold", "tiermesh.outcome.status": "OK" });
    expect(processed!.resource.attributes["service.name"]).toBe("tiermesh-health-monitor");
  });

  it("a batch with no traced outcome is not traced at all", () => {
    const batch = create(OutcomeBatchSchema, { tier: "gold", outcomes: [{ tier: "gold", status: OutcomeStatus.OK }] });
    expect(new OutcomeTracing(tracerFor("health-monitor")!).receive("s", undefined, batch)).toBeUndefined();
  });
});

import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { SpanKind, TraceFlags, trace } from "@opentelemetry/api";
import { tracingSchema } from "@tiermesh/config";
import { spanContextOf, traceFieldsOf } from "./trace-fields.js";
import { startTestTracing, type TestTracing } from "./testing.js";
import { startTracing, tracerFor } from "./tracing.js";

let tracing: TestTracing | undefined;
afterEach(async () => {
  await tracing?.stop();
  tracing = undefined;
});

describe("tracing off", () => {
  it("gives no tracer", async () => {
    const off = await startTracing(tracingSchema.parse({}));
    expect(off.enabled).toBe(false);
    expect(tracerFor("router")).toBeUndefined();
  });

  it("loads no SDK module", () => {
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    const script = `
      import { createRequire } from "node:module";
      const { startTracing, tracerFor } = await import(${JSON.stringify(dist)});
      await startTracing({ enabled: false });
      tracerFor("router");
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => /@opentelemetry[\\\\/](sdk-|exporter-|resources|core)/.test(f));
      process.stdout.write(JSON.stringify(loaded));`;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" });
    expect(JSON.parse(out)).toEqual([]);
  });
});

describe("tracing on", () => {
  it("names each service's spans after it, with its own resource attributes", async () => {
    tracing = await startTestTracing();
    tracerFor("router")!.startSpan("a").end();
    tracerFor("tier-executor", { "tiermesh.tier": "gold" })!.startSpan("b").end();
    const [a, b] = tracing.spans();
    expect(a!.resource.attributes["service.name"]).toBe("tiermesh-router");
    expect(b!.resource.attributes["service.name"]).toBe("tiermesh-tier-executor");
    expect(b!.resource.attributes["tiermesh.tier"]).toBe("gold");
  });

  it("carries a sampled span's context as text fields, and nothing for an unsampled one", async () => {
    tracing = await startTestTracing();
    const span = tracerFor("tier-executor")!.startSpan("attempt", { kind: SpanKind.CLIENT });
    const fields = traceFieldsOf(span);
    expect(fields.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const back = spanContextOf(fields)!;
    expect(back.traceId).toBe(span.spanContext().traceId);
    expect(back.spanId).toBe(span.spanContext().spanId);
    expect(back.isRemote).toBe(true);
    span.end();
    const unsampled = trace.wrapSpanContext({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: TraceFlags.NONE });
    expect(traceFieldsOf(unsampled)).toEqual({ traceparent: "", tracestate: "" });
    expect(spanContextOf({ traceparent: "garbage", tracestate: "" })).toBeUndefined();
  });

  it("samples a root span that links to a sampled span, whatever the ratio", async () => {
    const { createTracePipeline } = await import("./trace-pipeline.js");
    const { InMemorySpanExporter } = await import("@opentelemetry/sdk-trace-base");
    const exporter = new InMemorySpanExporter();
    const pipeline = await createTracePipeline(tracingSchema.parse({ enabled: true, sample_ratio: 0 }), exporter);
    const tracer = pipeline.tracerFor("tier-executor", {});
    const sampled = trace
      .wrapSpanContext({ traceId: "1".repeat(32), spanId: "2".repeat(16), traceFlags: TraceFlags.SAMPLED })
      .spanContext();
    tracer.startSpan("alone").end();
    tracer.startSpan("linked", { links: [{ context: sampled }] }).end();
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(["linked"]);
    await pipeline.shutdown();
  });
});

import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { tracingSchema } from "@tiermesh/config";
import { startTracing } from "./tracing.js";

export type { ReadableSpan } from "@opentelemetry/sdk-trace-base";

/** Tracing for tests: every span sampled and kept in memory, exported as it ends. */
export interface TestTracing {
  /** Spans finished so far, in the order they ended. */
  spans(): ReadableSpan[];
  reset(): void;
  stop(): Promise<void>;
}

export async function startTestTracing(): Promise<TestTracing> {
  const exporter = new InMemorySpanExporter();
  const tracing = await startTracing(tracingSchema.parse({ enabled: true }), { exporter });
  return {
    spans: () => exporter.getFinishedSpans(),
    reset: () => exporter.reset(),
    stop: () => tracing.shutdown(),
  };
}

import type { Tracer } from "@opentelemetry/api";
import type { TracingConfig } from "@tiermesh/config";
import type { SpanExporterLike, TracePipeline } from "./trace-pipeline.js";

/** What a process holds while tracing is on: flushes and stops the export at shutdown. */
export interface Tracing {
  readonly enabled: boolean;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Exports what is left and stops tracing in this process. */
  shutdown(): Promise<void>;
}

const OFF: Tracing = { enabled: false, flush: async () => {}, shutdown: async () => {} };

let pipeline: TracePipeline | undefined;

export interface StartTracingOptions {
  /** Where spans go instead of OTLP/HTTP (tests: an in-memory exporter), exported one by one. */
  exporter?: SpanExporterLike;
}

/**
 * Starts tracing in this process as configured. Off (the default), it loads nothing and
 * every `tracerFor` answers undefined, so no span, header or field is ever made. On, it loads
 * the OpenTelemetry SDK (only then), installs the W3C trace-context propagator and exports
 * spans over OTLP/HTTP. Call once, before building services; a second call while tracing is
 * on is refused.
 */
export async function startTracing(config: TracingConfig, options: StartTracingOptions = {}): Promise<Tracing> {
  if (!config.enabled) return OFF;
  if (pipeline) throw new Error("tracing is already started in this process");
  const { createTracePipeline } = await import("./trace-pipeline.js");
  const started = await createTracePipeline(config, options.exporter);
  pipeline = started;
  return {
    enabled: true,
    flush: () => started.flush(),
    async shutdown() {
      if (pipeline === started) pipeline = undefined;
      await started.shutdown();
    },
  };
}

/**
 * The tracer of one service in this process (`service.name` = prefix-service, plus the given
 * resource attributes, such as an executor's tier), or undefined while tracing is off.
 * Several services of one process (one-process mode) each get their own.
 */
export function tracerFor(service: string, attributes: Readonly<Record<string, string>> = {}): Tracer | undefined {
  return pipeline?.tracerFor(service, attributes);
}

import type { Tracer } from "@opentelemetry/api";
import type { TracingConfig } from "@tiermesh/config";
import type { SpanExporterLike, TracePipeline } from "./trace-pipeline.js";

/** What a process holds while tracing is on: flushes and stops the export at shutdown. */
export interface Tracing {
  readonly enabled: boolean;
  /** Exports every finished span now. */
  flush(): Promise<void>;
  /** Exports what is left (giving up after `graceMs`, so an unreachable collector cannot hold a stop) and stops tracing in this process. */
  shutdown(graceMs?: number): Promise<void>;
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
    async shutdown(graceMs = 2_000) {
      if (pipeline === started) pipeline = undefined;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`spans not exported within ${graceMs} ms`)), graceMs);
        timer.unref();
      });
      try {
        await Promise.race([started.shutdown(), late]);
      } finally {
        clearTimeout(timer);
      }
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

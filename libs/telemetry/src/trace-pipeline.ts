import { propagation, type Tracer } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import type { TracingConfig } from "@tiermesh/config";
import { LinkedRatioSampler } from "./linked-ratio-sampler.js";

// This module is loaded only when tracing is on: it is where the SDK comes in.

export type SpanExporterLike = SpanExporter;

export interface TracePipeline {
  tracerFor(service: string, attributes: Readonly<Record<string, string>>): Tracer;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * One span processor and exporter for the process; one tracer provider per service in it,
 * so each has its own `service.name`. Root spans are sampled at `sample_ratio` (or when they
 * link to a sampled span); the others follow their parent.
 */
export async function createTracePipeline(config: TracingConfig, exporter?: SpanExporter): Promise<TracePipeline> {
  const processor: SpanProcessor = exporter
    ? new SimpleSpanProcessor(exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter({ url: config.endpoint, headers: { ...config.headers } }), {
        scheduledDelayMillis: config.export_interval_ms,
      });
  const sampler = new ParentBasedSampler({ root: new LinkedRatioSampler(config.sample_ratio) });
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const tracers = new Map<string, Tracer>();
  return {
    tracerFor(service, attributes) {
      const key = JSON.stringify([service, attributes]);
      let tracer = tracers.get(key);
      if (!tracer) {
        const resource = resourceFromAttributes({ ...attributes, [ATTR_SERVICE_NAME]: `${config.service_name_prefix}-${service}` });
        tracer = new BasicTracerProvider({ resource, sampler, spanProcessors: [processor] }).getTracer("tiermesh");
        tracers.set(key, tracer);
      }
      return tracer;
    },
    flush: () => processor.forceFlush(),
    async shutdown() {
      await processor.shutdown();
      propagation.disable();
    },
  };
}

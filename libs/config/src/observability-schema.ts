import { z } from "zod";
import { fraction, httpUrl, positiveMs } from "./schema-parts.js";

/**
 * OpenTelemetry tracing. Off by default, and then free: no SDK is loaded and nothing is
 * added to requests or messages. On, every process exports its spans over OTLP/HTTP (JSON).
 */
export const tracingSchema = z
  .strictObject({
    enabled: z.boolean().default(false),
    /** OTLP/HTTP traces endpoint, the full URL (a collector's is http://host:4318/v1/traces). */
    endpoint: httpUrl.default("http://127.0.0.1:4318/v1/traces"),
    /** Sent with every export (an API key for a hosted backend, say). */
    headers: z.record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "expected an HTTP header name"), z.string()).default({}),
    /**
     * Share of new traces recorded (0..1). A request that arrives with a sampled `traceparent`
     * is recorded whatever this says, and one whose caller decided against is not.
     */
    sample_ratio: fraction.default(1),
    /** `service.name` of each process is this, a dash and the service (`tiermesh-router`). */
    service_name_prefix: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/, "expected letters, digits, '.', '_' or '-'")
      .default("tiermesh"),
    /** Finished spans leave in batches at least this often. */
    export_interval_ms: positiveMs.default(1_000),
  })
  .prefault({});

export const observabilitySchema = z.strictObject({ tracing: tracingSchema }).prefault({});

export type TracingConfig = z.output<typeof tracingSchema>;

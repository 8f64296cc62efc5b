import { z } from "zod";
import { hostPort, httpUrl, identifier, positiveMs } from "./schema-parts.js";
import { ledgerSchema } from "./ledger-schema.js";
import { planSchema, ruleSchema, tenantSchema } from "./tenancy-schema.js";
import { tierSchema } from "./tier-schema.js";
import { checkReferences } from "./references.js";
import { observabilitySchema } from "./observability-schema.js";

const serviceEndpoint = z.strictObject({
  listen: hostPort,
  /** How other services reach this one; defaults to http://<listen>. */
  url: httpUrl.optional(),
});

/**
 * How a provider continues an answer from text already delivered (an assistant prefix).
 * `none`: it cannot; `prefix`: the text goes as a final assistant message, which the
 * server continues (Anthropic Messages, the simulator); `prefix_flag`: the same message
 * marked `"prefix": true` (DeepSeek, Mistral); `continue_final_message`: vLLM's
 * `continue_final_message: true, add_generation_prompt: false`.
 */
export const continuationModes = ["none", "prefix", "prefix_flag", "continue_final_message"] as const;

export const providerSchema = z
  .strictObject({
    /**
     * Wire format. "openai" covers OpenAI-compatible servers, the simulator included;
     * "anthropic" is the Anthropic Messages API, with base_url the API root without /v1.
     */
    kind: z.enum(["openai", "anthropic"]),
    base_url: httpUrl,
    /** Name of the environment variable holding the API key. */
    api_key_env: z.string().min(1).optional(),
    /** File holding the API key (for mounted secrets). */
    api_key_file: z.string().min(1).optional(),
    /** Persistent connections kept to this provider per executor process. */
    connections: z.number().int().positive().default(64),
    /**
     * Whether and how this provider continues an interrupted answer from its text so far
     * (see `continuationModes`). Default: `prefix` for kind "anthropic", `none` for "openai"
     * (OpenAI-compatible servers vary; say so only for servers known to continue).
     */
    continuation: z.enum(continuationModes).optional(),
  })
  .transform((p) => ({ ...p, continuation: p.continuation ?? (p.kind === "anthropic" ? "prefix" : "none") }))
  .refine((p) => p.kind !== "anthropic" || p.continuation === "none" || p.continuation === "prefix", {
    path: ["continuation"],
    message: 'kind "anthropic" continues with "prefix" or not at all ("none")',
  });

export const configSchema = z
  .strictObject({
    log: z
      .strictObject({
        level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
      })
      .prefault({}),
    nats: z
      .strictObject({
        url: z.string().min(1).default("nats://127.0.0.1:4222"),
        subject_prefix: z
          .string()
          .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "expected NATS subject tokens")
          .default("tiermesh"),
        kv_bucket: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default("tiermesh_tier_status"),
        /** JetStream stream holding queued jobs (file storage, work-queue retention). */
        jobs_stream: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default("TIERMESH_JOBS"),
        /** Key-value bucket holding job records and results (file storage). */
        jobs_bucket: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default("tiermesh_jobs"),
        /** Object store holding Batch API files (inputs, outputs, errors; file storage). */
        files_bucket: z
          .string()
          .regex(/^[A-Za-z0-9_-]+$/)
          .default("tiermesh_files"),
      })
      .prefault({}),
    router: serviceEndpoint.extend({
      /** Deadline applied when the caller sends none. */
      default_timeout_ms: positiveMs.default(60_000),
      /** Tier status older than this is ignored. */
      status_ttl_ms: positiveMs.default(15_000),
      /**
       * How often a router tells the other replicas what each tenant consumed (and hears
       * theirs), for rate limits shared by every replica; also its heartbeat to them.
       */
      rate_limit_sync_ms: z.number().int().min(20).max(1_000).default(100),
      /** Tenant used for calls without an API key; unset means a key is required. */
      anonymous_tenant: identifier.optional(),
      /**
       * Provider attempts one request may make in all, across tiers and executors, so
       * retries never multiply across layers.
       */
      max_attempts: z.number().int().min(1).max(20).default(4),
      /**
       * The router's own breaker per tier, used when tier status is stale or absent: after
       * `failures` failed calls in a row the tier counts as down for `cool_ms`.
       */
      passive_breaker: z
        .strictObject({
          failures: z.number().int().positive().default(5),
          cool_ms: positiveMs.default(5_000),
        })
        .prefault({}),
      /**
       * Batch API batches left validating by a router that stopped: every router looks for them
       * about every `sweep_ms` (jittered), and resumes a batch whose validating router has
       * recorded no progress for `orphan_ms`.
       */
      batch_resume: z
        .strictObject({
          sweep_ms: positiveMs.min(100).default(5_000),
          orphan_ms: positiveMs.min(2_000).default(30_000),
        })
        .prefault({}),
    }),
    classifier: serviceEndpoint.extend({
      rules: z.array(ruleSchema).default([]),
    }),
    health_monitor: serviceEndpoint.extend({
      /** How often SLIs are evaluated. */
      evaluate_interval_ms: positiveMs.default(100),
      /** Every tier's status is re-published this often even without change. */
      heartbeat_ms: positiveMs.default(2_000),
      /** Lease time of the leading replica; another takes over within about this long. */
      lease_ms: z.number().int().min(300).default(3_000),
      /** How often the leading monitor looks at open Batch API batches, to end those whose requests all ended. */
      batch_sweep_ms: positiveMs.min(100).default(2_000),
      /** Tier state changes are also POSTed here as JSON. */
      alert_webhook: z
        .strictObject({
          url: httpUrl,
          timeout_ms: positiveMs.default(2_000),
        })
        .optional(),
      probe: z
        .strictObject({
          /** Canary request interval per deployment; 0 disables probes. */
          interval_ms: z.number().int().nonnegative().default(1_000),
          /**
           * Interval for the deployments of tiers that are down or recovering from down
           * (degraded since leaving down), so a recovery is seen within a few hundred ms.
           * Still one probe per deployment in flight; such a probe also gives up after twice
           * the tier's `slo.ttft_p95_ms` (at most `timeout_ms`), so a hung one cannot hide
           * the recovery for long.
           */
          down_interval_ms: positiveMs.default(200),
          timeout_ms: positiveMs.default(5_000),
          /**
           * A probe is the smallest request a provider accepts: this prompt alone (the tier's
           * system prompt is left out) and `max_tokens` completion tokens.
           */
          prompt: z.string().min(1).default("Reply with OK."),
          max_tokens: z.number().int().positive().default(1),
        })
        .prefault({}),
    }),
    ledger: ledgerSchema.prefault({}),
    /** `tiermesh up` answers `tiermesh status` here with the processes it supervises. */
    launcher: serviceEndpoint.prefault({ listen: "127.0.0.1:7403" }),
    providers: z.record(identifier, providerSchema),
    tiers: z.record(identifier, tierSchema).refine((t) => Object.keys(t).length > 0, "at least one tier is required"),
    plans: z.record(identifier, planSchema),
    tenants: z.record(identifier, tenantSchema).default({}),
    /** Traces (OpenTelemetry); see observability-schema.ts. */
    observability: observabilitySchema,
    /** The simulated provider's own section; validated by the simulator. */
    simulator: z.unknown().optional(),
  })
  .superRefine(checkReferences);

export type Config = z.output<typeof configSchema>;
export type ProviderConfig = z.output<typeof providerSchema>;

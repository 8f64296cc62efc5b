import { z } from "zod";
import { fraction, hostPort, httpUrl, identifier, positiveMs } from "./schema-parts.js";

/** Price of a model in US dollars per million tokens. */
export const priceSchema = z.strictObject({
  input_per_mtok: z.number().nonnegative(),
  output_per_mtok: z.number().nonnegative(),
});

/** One model deployment in a tier's pool. */
export const deploymentSchema = z.strictObject({
  /** Stable id used in metrics and breakers; defaults to `<provider>/<model>`. */
  id: z.string().min(1).optional(),
  provider: identifier,
  model: z.string().min(1),
  weight: z.number().positive().default(1),
  price: priceSchema,
});

export const tierSloSchema = z.strictObject({
  /** Sliding window the SLIs are computed over. */
  window_ms: positiveMs.default(10_000),
  /** Fewer samples than this in the window never change state by ratio. */
  min_samples: z.number().int().positive().default(10),
  /** Error ratio (errors + timeouts) at or above which the tier is degraded. */
  error_rate_degraded: fraction.default(0.05),
  /** Error ratio at or above which the tier is down. */
  error_rate_down: fraction.default(0.5),
  /** TTFT p95 above which the tier is degraded. */
  ttft_p95_ms: positiveMs.default(2_000),
  /** Consecutive failed attempts that mark the tier down at once, whatever the window says. */
  consecutive_failures_down: z.number().int().positive().default(5),
  /** Consecutive successful attempts (probes included) a down tier needs to leave down. */
  recovery_successes: z.number().int().positive().default(3),
  /** Minimum time a tier stays in a state before it may improve. */
  min_dwell_ms: z.number().int().nonnegative().default(3_000),
});

export const tierSchema = z.strictObject({
  /** Higher rank is the better (and dearer) tier. Ranks are unique. */
  rank: z.number().int(),
  /** Tier that takes this tier's traffic when it is down. Must rank lower. */
  fallback: identifier.optional(),
  executor: z.strictObject({
    listen: hostPort,
    /** How other services reach this tier's executor; defaults to http://<listen>. */
    url: httpUrl.optional(),
  }),
  models: z.array(deploymentSchema).min(1),
  prompt: z
    .strictObject({
      /** System message prepended to every request of this tier. */
      system: z.string().optional(),
      default_max_tokens: z.number().int().positive().default(256),
      max_tokens_cap: z.number().int().positive().default(4_096),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      attempt_ms: positiveMs.default(30_000),
      ttft_ms: positiveMs.default(10_000),
    })
    .prefault({}),
  retries: z
    .strictObject({
      /** Attempts per request inside this tier's executor, first included. */
      max_attempts: z.number().int().min(1).max(10).default(2),
      backoff_ms: z.number().int().nonnegative().default(25),
    })
    .prefault({}),
  slo: tierSloSchema.prefault({}),
});

export type TierConfig = z.output<typeof tierSchema>;
export type DeploymentConfig = z.output<typeof deploymentSchema>;
export type TierSloConfig = z.output<typeof tierSloSchema>;

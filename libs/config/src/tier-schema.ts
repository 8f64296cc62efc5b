import { z } from "zod";
import { asyncSchema } from "./async-schema.js";
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
  /**
   * Tokens the model takes in one request, prompt and completion together. A request that
   * would not fit is sent to a deployment or tier whose window fits before any provider call.
   * Unset: unknown, never skipped on size (the provider's answer decides).
   */
  context_window: z.number().int().positive().optional(),
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
  /** Share of attempts that must succeed (error budget = 1 - this). */
  availability_target: z.number().min(0.5).max(0.99999).default(0.99),
  /** Share of successful attempts whose TTFT must be under ttft_p95_ms. */
  latency_target: z.number().min(0.5).max(0.99999).default(0.95),
  /**
   * Multi-window burn-rate alerts (SRE workbook): the tier is degraded while the budget
   * burns faster than `rate` over both the long and the short window.
   */
  burn_alerts: z
    .array(
      z.strictObject({
        long_window_ms: positiveMs,
        short_window_ms: positiveMs,
        rate: z.number().positive(),
      }),
    )
    .default([
      { long_window_ms: 60_000, short_window_ms: 5_000, rate: 14.4 },
      { long_window_ms: 300_000, short_window_ms: 30_000, rate: 6 },
    ]),
});

export const poolSchema = z.strictObject({
  /** How a deployment is picked for an attempt. */
  strategy: z.enum(["weighted", "least_outstanding", "lowest_latency"]).default("weighted"),
});

export const breakerSchema = z.strictObject({
  /** Outcomes of this long ago or newer decide whether the breaker opens. */
  window_ms: positiveMs.default(10_000),
  /** No decision with fewer attempts than this in the window. */
  min_requests: z.number().int().positive().default(10),
  /** Failure share at or above which the breaker opens. */
  failure_ratio: fraction.default(0.5),
  /** How long an open breaker stays open before probing. */
  open_ms: positiveMs.default(5_000),
  /** Trial attempts let through while half-open. */
  half_open_probes: z.number().int().positive().default(1),
});

/**
 * A provider's request to wait (429, or a Retry-After on any error answer) cools the
 * deployment down: no attempt and no canary probe goes to it until the wait is over.
 */
export const cooldownSchema = z
  .strictObject({
    /** Cool-down after a 429 that carried no Retry-After (nor rate-limit reset hint). */
    default_ms: positiveMs.default(1_000),
    /** Longest cool-down, whatever the provider asks: an absurd Retry-After must not take a deployment out for hours. */
    max_ms: positiveMs.default(60_000),
  })
  .refine((c) => c.default_ms <= c.max_ms, { path: ["default_ms"], message: "default_ms must not exceed max_ms" });

export const hedgeSchema = z.strictObject({
  enabled: z.boolean().default(false),
  /** Delay before the second attempt; 0 uses the tier's recent p95 time to first token. */
  delay_ms: z.number().int().nonnegative().default(0),
  /** Never hedge sooner than this. */
  min_delay_ms: z.number().int().nonnegative().default(20),
  /** Hedged attempts allowed, as a share of requests (caps the extra cost). */
  max_extra_ratio: fraction.default(0.1),
});

/**
 * Stalls between tokens: an answer that has started and then produces nothing for longer
 * than clamp(multiple × the deployment's recent p99 inter-token latency, min_ms, max_ms)
 * (max_ms while the deployment has too little history; never above `timeouts.attempt_ms`)
 * is cut as stalled: the deployment's breaker hears of it, and the answer is continued
 * elsewhere when `continuation` allows.
 */
export const interTokenStallSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    multiple: z.number().positive().default(10),
    min_ms: positiveMs.default(1_000),
    max_ms: positiveMs.default(10_000),
  })
  .refine((s) => s.min_ms <= s.max_ms, { path: ["min_ms"], message: "min_ms must not exceed max_ms" });

/**
 * Mid-stream continuation: when a stream fails after text reached the caller (cut, stall,
 * provider error event), the answer goes on on another deployment of the tier, or on the
 * next tier the request may use, with the text so far sent as an assistant prefix (only to
 * providers whose `continuation` says they can), and the caller sees one seamless answer.
 * Off: such a stream ends with an error, and this tier does not continue other tiers' answers.
 */
export const continuationSchema = z.strictObject({
  enabled: z.boolean().default(true),
});

/**
 * Stall detection: notices within milliseconds, not after `timeouts.ttft_ms`, that a deployment
 * stopped producing first tokens. An attempt that has waited longer than
 * clamp(ttft_multiple × the deployment's recent p99 TTFT, min_ms, max_ms) while the deployment
 * produced no first token on any attempt is a stall: the deployment's breaker opens at once and
 * every attempt still waiting on it moves on.
 */
export const stallSchema = z
  .strictObject({
    enabled: z.boolean().default(true),
    /** Stall threshold as a multiple of the deployment's recent p99 time to first token. */
    ttft_multiple: z.number().positive().default(3),
    /** Never judge a stall sooner than this, however fast the deployment usually is. */
    min_ms: positiveMs.default(250),
    /**
     * Longest stall threshold, also used while the deployment has no recent history.
     * Defaults to `timeouts.ttft_ms` and is capped at it.
     */
    max_ms: positiveMs.optional(),
    /**
     * Under traffic: this many attempts each waiting longer than quorum_ttft_multiple × the
     * recent p99 TTFT (same clamp), with no first token since the first of them started, are
     * a stall too. One attempt past its p99 is 1 in 100; several at once with nothing
     * answered in between is a hang, caught near p99 instead of a multiple of it. 0 = off.
     */
    quorum: z.number().int().nonnegative().default(3),
    quorum_ttft_multiple: z.number().positive().default(1),
    /**
     * A stalled deployment gets no users' requests (not even as its breaker's half-open
     * trial) until it answers again: a canary probe it answers, or a first token, clears the
     * stall. After this long without that, half-open trials decide as for any open breaker
     * (the safety net when no monitor probes). 0 = trials decide at once.
     */
    hold_ms: z.number().int().nonnegative().default(30_000),
    /** Stalls between tokens, once an answer has started. */
    inter_token: interTokenStallSchema.prefault({}),
  })
  .refine((s) => s.max_ms === undefined || s.min_ms <= s.max_ms, { path: ["min_ms"], message: "min_ms must not exceed max_ms" });

export const bulkheadSchema = z.strictObject({
  /** Provider calls in flight at once in this executor process. */
  max_concurrency: z.number().int().positive().default(256),
  /** Requests allowed to wait for a slot; beyond it they are refused at once. */
  max_queue: z.number().int().nonnegative().default(512),
});

export const cacheSchema = z.strictObject({
  /** Caches answers to deterministic requests (temperature 0) within this tier only. */
  enabled: z.boolean().default(false),
  ttl_ms: positiveMs.default(60_000),
  max_entries: z.number().int().positive().default(1_000),
  max_bytes: z
    .number()
    .int()
    .positive()
    .default(16 * 1024 * 1024),
});

export const routingSchema = z.strictObject({
  /** What the router does with this tier's traffic while the tier is degraded. */
  on_degraded: z.enum(["stay", "promote", "fallback"]).default("stay"),
  /** ...and while it is down. */
  on_down: z.enum(["promote", "fallback"]).default("fallback"),
  /** Tier traffic is promoted to; defaults to the next higher tier. */
  promote_to: identifier.optional(),
  /**
   * Promoted requests in flight may use at most this share of the target tier's capacity
   * (its bulkhead max_concurrency), per router.
   */
  promote_share: fraction.default(0.2),
  /** Quality floor: this tier's traffic is never served below this tier. */
  floor: identifier.optional(),
  /**
   * A user moved off this tier stays on the tier they were moved to for at most this long
   * while this tier is not confirmed healthy (down, degraded, or recovering from down), so
   * an unstable tier does not flip them back and forth. The hold ends early when this tier
   * is reported healthy (the user then follows the return steps like everyone else) or
   * when the tier they sit on gets worse. Callers without a user id are never held. 0 = off.
   */
  sticky_ms: z.number().int().nonnegative().default(60_000),
  /**
   * Share of this tier's traffic let back at each step of the return after it leaves down
   * (degraded = recovering, with `on_degraded: stay`, or healthy). Users are let back by a
   * stable hash of tenant and user id, so a returned user stays returned; requests without
   * a user id are let back by a random draw per request against the step's share. A new
   * outage restarts the steps at the next recovery. Default: a quarter, half, then all.
   */
  return_steps: z.array(fraction).min(1).default([0.25, 0.5, 1]),
  /**
   * Time spent at each return step; the steps only advance while the tier is healthy or
   * recovering from down, never while it is degraded again after being healthy. With the
   * defaults all traffic is back 4 s after the tier leaves down and the return is over at 6 s.
   */
  return_step_ms: positiveMs.default(2_000),
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
  pool: poolSchema.prefault({}),
  prompt: z
    .strictObject({
      /** System message prepended to every request of this tier; {{tier}} and {{tenant}} are replaced. */
      system: z.string().optional(),
      default_max_tokens: z.number().int().positive().default(256),
      max_tokens_cap: z.number().int().positive().default(4_096),
    })
    .prefault({}),
  timeouts: z
    .strictObject({
      /**
       * Longest one provider attempt may take, until its answer streams: from the first token
       * on, a stream is cut when it goes silent (`stall.inter_token`) or at the caller's
       * deadline, not at this bound, so long answers are not cut while they keep coming
       * (with `stall.inter_token.enabled: false` this bounds the whole answer).
       */
      attempt_ms: positiveMs.default(30_000),
      /** Longest wait for an attempt's first token (capped at `attempt_ms`). */
      ttft_ms: positiveMs.default(10_000),
    })
    .prefault({}),
  retries: z
    .strictObject({
      /** Attempts per request inside this tier's executor, first included. */
      max_attempts: z.number().int().min(1).max(10).default(2),
      backoff_ms: z.number().int().nonnegative().default(25),
      /** Retries allowed as a share of first attempts, so retries add at most this much load. */
      budget_ratio: fraction.default(0.2),
      /** Retries always allowed per second, so a quiet tier can still retry. */
      min_retries_per_second: z.number().nonnegative().default(5),
    })
    .prefault({}),
  hedge: hedgeSchema.prefault({}),
  bulkhead: bulkheadSchema.prefault({}),
  cache: cacheSchema.prefault({}),
  breaker: breakerSchema.prefault({}),
  cooldown: cooldownSchema.prefault({}),
  stall: stallSchema.prefault({}),
  continuation: continuationSchema.prefault({}),
  stream: z
    .strictObject({
      /**
       * Text that arrives within this many ms after a piece already waiting is sent on with
       * it, as one message (the first token is never held). Fewer, larger messages cost the
       * executor, the router and the caller's connection far less CPU than one per token;
       * 15 ms is under one frame of a 60 Hz display. 0 sends every token as it comes.
       */
      flush_ms: z.number().int().nonnegative().max(1_000).default(15),
    })
    .prefault({}),
  slo: tierSloSchema.prefault({}),
  routing: routingSchema.prefault({}),
  /** Asynchronous jobs (off unless enabled); see async-schema.ts. */
  async: asyncSchema.prefault({}),
});

export type TierConfig = z.output<typeof tierSchema>;
export type DeploymentConfig = z.output<typeof deploymentSchema>;
export type TierSloConfig = z.output<typeof tierSloSchema>;
export type BreakerConfig = z.output<typeof breakerSchema>;
export type StallConfig = z.output<typeof stallSchema>;
export type InterTokenStallConfig = z.output<typeof interTokenStallSchema>;
export type CooldownConfig = z.output<typeof cooldownSchema>;
export type HedgeConfig = z.output<typeof hedgeSchema>;
export type BulkheadConfig = z.output<typeof bulkheadSchema>;
export type CacheConfig = z.output<typeof cacheSchema>;
export type RoutingConfig = z.output<typeof routingSchema>;

import { z } from "zod";
import { budgetOverrideSchema, budgetSchema, type BudgetConfig } from "./budget-schema.js";
import { identifier } from "./schema-parts.js";

export const urgencies = ["interactive", "standard", "batch"] as const;
export const urgencySchema = z.enum(urgencies);
export type Urgency = z.output<typeof urgencySchema>;

/**
 * Requests and tokens a tenant may use per minute, over a sliding minute, shared by every
 * router replica. Tokens are the prompt (estimated from its size: a token per 4 UTF-8 bytes) plus the
 * completion tokens the request may produce: its max_tokens (at most its tier's
 * max_tokens_cap), else `output_tokens_estimate`, else its tier's default_max_tokens.
 */
const rateLimitFields = {
  requests_per_minute: z.number().int().positive().optional(),
  tokens_per_minute: z.number().int().positive().optional(),
  /** Completion tokens charged for a request without max_tokens; default: its tier's prompt.default_max_tokens. */
  output_tokens_estimate: z.number().int().positive().optional(),
};

/** A commercial plan: which tiers its tenants are entitled to. */
export const planSchema = z
  .strictObject({
    default_tier: identifier,
    /** The SLA ceiling: nothing a caller sends raises a request above it. */
    max_tier: identifier,
    /** The quality floor: routing never serves below it. Defaults to the lowest tier. */
    min_tier: identifier.optional(),
    default_urgency: urgencySchema.default("standard"),
    urgencies: z
      .array(urgencySchema)
      .min(1)
      .default([...urgencies]),
    /** What to do with a tier hint above max_tier. */
    hint_above_max: z.enum(["clamp", "reject"]).default("clamp"),
    limits: z
      .strictObject({
        max_prompt_tokens: z.number().int().positive().default(128_000),
        ...rateLimitFields,
        /** Deprecated: read as `budget: { monthly_usd, on_exhausted: serve }` (no promotions once spent). */
        monthly_budget_usd: z.number().positive().optional(),
      })
      .prefault({}),
    /** Spend limits and pacing for each tenant of the plan. */
    budget: budgetSchema.optional(),
  })
  .superRefine((p, ctx) => {
    if (p.budget && p.limits.monthly_budget_usd !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["limits", "monthly_budget_usd"],
        message: "set the budget in `budget.monthly_usd` only (limits.monthly_budget_usd is its older name)",
      });
    }
  })
  .transform((p) => {
    const legacy = p.limits.monthly_budget_usd;
    if (p.budget || legacy === undefined) return { ...p, budget: p.budget as BudgetConfig | undefined };
    // The older field only stopped promotions once spent; it keeps that meaning. It moves to
    // `budget`, so the parsed plan validates again as it is (the classifier's policy document).
    const { monthly_budget_usd: _moved, ...limits } = p.limits;
    const budget: BudgetConfig = { monthly_usd: legacy, pacing: [], stop_promotions_at: 1, on_exhausted: "serve" };
    return { ...p, limits, budget };
  });

export const tenantSchema = z.strictObject({
  plan: identifier,
  /** SHA-256 hex digests of the tenant's API keys; keys are never stored in clear. */
  api_key_sha256: z.array(z.string().regex(/^[0-9a-f]{64}$/, "expected a SHA-256 hex digest")).default([]),
  /** This tenant's own rate limits; each one set replaces its plan's. */
  limits: z.strictObject(rateLimitFields).optional(),
  /** Overrides of the plan's budget for this tenant (any field). */
  budget: budgetOverrideSchema.optional(),
});

export const ruleSchema = z.strictObject({
  id: z.string().min(1),
  /** Every listed condition must hold. */
  when: z
    .strictObject({
      plans: z.array(identifier).min(1).optional(),
      tenants: z.array(identifier).min(1).optional(),
      urgencies: z.array(urgencySchema).min(1).optional(),
      /** Prompt longer than this many tokens (counted with the o200k_base tokenizer). */
      prompt_tokens_over: z.number().int().nonnegative().optional(),
      /** Requested max output tokens above this. */
      max_tokens_over: z.number().int().nonnegative().optional(),
      /** Requested model or capability alias is one of these. */
      models: z.array(z.string().min(1)).min(1).optional(),
      /** The request offers tools (true) or offers none (false). */
      tools: z.boolean().optional(),
      /** The request asks for JSON output (true) or not (false). */
      json_mode: z.boolean().optional(),
      /** The caller's deadline leaves less than this many milliseconds. */
      deadline_under_ms: z.number().int().positive().optional(),
    })
    .prefault({}),
  tier: identifier,
  /** Plain-language reason reported with the decision. */
  reason: z.string().optional(),
});

export type PlanConfig = z.output<typeof planSchema>;
export type TenantConfig = z.output<typeof tenantSchema>;
export type RuleConfig = z.output<typeof ruleSchema>;

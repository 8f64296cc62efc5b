import { z } from "zod";
import { fraction, identifier } from "./schema-parts.js";

/** A step of budget pacing: from `at` of the budget spent, requests are served at `max_tier` at most. */
export const pacingStepSchema = z.strictObject({
  /** Share of the budget spent (0 < at < 1) from which the step applies. */
  at: z.number().gt(0).lt(1),
  max_tier: identifier,
});

const usd = z.number().positive();

/**
 * What a tenant may spend, and what happens as it gets close. A plan's budget applies to each
 * of its tenants; `tenants.<t>.budget` overrides any field for one tenant.
 */
export const budgetSchema = z.strictObject({
  /** USD per calendar month (UTC). */
  monthly_usd: usd.optional(),
  /** USD per calendar day (UTC). */
  daily_usd: usd.optional(),
  /** Tier ceilings as spend approaches the budget (the highest `at` reached applies). */
  pacing: z.array(pacingStepSchema).default([]),
  /** From this share of the budget spent, requests are no longer promoted to a higher tier. */
  stop_promotions_at: fraction.default(1),
  /**
   * At 100%: `refuse` answers RESOURCE_EXHAUSTED (HTTP 429); `serve` keeps serving at the
   * entitled tier without promotions (what `limits.monthly_budget_usd` did).
   */
  on_exhausted: z.enum(["refuse", "serve"]).default("refuse"),
});

/** A tenant's override: every field optional, merged over its plan's budget. */
export const budgetOverrideSchema = z.strictObject({
  monthly_usd: usd.optional(),
  daily_usd: usd.optional(),
  pacing: z.array(pacingStepSchema).optional(),
  stop_promotions_at: fraction.optional(),
  on_exhausted: z.enum(["refuse", "serve"]).optional(),
});

export type BudgetConfig = z.output<typeof budgetSchema>;
export type BudgetOverride = z.output<typeof budgetOverrideSchema>;

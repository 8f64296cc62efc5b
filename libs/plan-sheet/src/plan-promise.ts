import {
  rateLimitsOf,
  tenantBudget,
  TierLadder,
  type BudgetConfig,
  type Config,
  type PlanConfig,
  type RateLimits,
  type Urgency,
} from "@tiermesh/config";
import { rulePromises, type RulePromise } from "./rule-promise.js";
import { tierPromise, type TierPromise } from "./tier-promise.js";

/** What a plan promises its tenants, read from the config alone. */
export interface PlanPromise {
  plan: string;
  /** Set when the promise is one tenant's: its plan with its own limits applied. */
  tenant?: string | undefined;
  ceiling: string;
  floor: string;
  defaultTier: string;
  urgencies: readonly Urgency[];
  defaultUrgency: Urgency;
  /** What happens to a tier asked for above the ceiling. */
  hintAboveMax: PlanConfig["hint_above_max"];
  maxPromptTokens: number;
  rules: RulePromise[];
  limits: RateLimits;
  /** Which limits the tenant sets itself (the rest are the plan's). */
  ownLimits: readonly ("requestsPerMinute" | "tokensPerMinute" | "outputTokensEstimate")[];
  /** Spend per tenant and what happens as it nears it (for a tenant: with its own overrides). */
  budget: BudgetConfig | undefined;
  /** The tiers the plan may be served on, highest first. */
  tiers: TierPromise[];
}

/** Every plan's promise, in config order; with `tenant`, only that tenant's plan, with its own limits. */
export function planPromises(config: Config, tenant?: string): PlanPromise[] {
  if (tenant !== undefined) {
    if (!Object.hasOwn(config.tenants, tenant))
      throw new RangeError(`unknown tenant "${tenant}" (tenants: ${Object.keys(config.tenants).join(", ") || "none"})`);
    return [planPromise(config, config.tenants[tenant]!.plan, tenant)];
  }
  return Object.keys(config.plans).map((plan) => planPromise(config, plan));
}

/** One plan's promise; with `tenant`, that tenant's limits replace the plan's where it sets them. */
export function planPromise(config: Config, plan: string, tenant?: string): PlanPromise {
  const p = config.plans[plan]!;
  const ladder = new TierLadder(config.tiers);
  const floor = p.min_tier ?? ladder.lowest;
  const inRange = ladder.names.filter((t) => ladder.rank(t) <= ladder.rank(p.max_tier) && ladder.rank(t) >= ladder.rank(floor));
  const own = tenant === undefined ? undefined : config.tenants[tenant]!.limits;
  const limits: RateLimits =
    tenant === undefined
      ? {
          requestsPerMinute: p.limits.requests_per_minute,
          tokensPerMinute: p.limits.tokens_per_minute,
          outputTokensEstimate: p.limits.output_tokens_estimate,
        }
      : rateLimitsOf(config, tenant)!;
  const ownLimits = (
    [
      ["requestsPerMinute", own?.requests_per_minute],
      ["tokensPerMinute", own?.tokens_per_minute],
      ["outputTokensEstimate", own?.output_tokens_estimate],
    ] as const
  )
    .filter(([, v]) => v !== undefined)
    .map(([k]) => k);
  return {
    plan,
    tenant,
    ceiling: p.max_tier,
    floor,
    defaultTier: p.default_tier,
    urgencies: p.urgencies,
    defaultUrgency: p.default_urgency,
    hintAboveMax: p.hint_above_max,
    maxPromptTokens: p.limits.max_prompt_tokens,
    rules: rulePromises(config, plan, tenant, ladder),
    limits,
    ownLimits,
    budget: tenant === undefined ? p.budget : tenantBudget(config, tenant),
    tiers: inRange.map((t) => tierPromise(config, ladder, t, { plan: p, floor, defaultTier: p.default_tier })),
  };
}

import type { BudgetConfig } from "./budget-schema.js";
import type { PlanConfig, TenantConfig } from "./tenancy-schema.js";

/** The budget that applies to one tenant: its plan's, with the tenant's override merged over it. */
export interface TenantBudget extends BudgetConfig {
  tenant: string;
  plan: string;
  /** "tenant" when the tenant's own override set an amount, else "plan". */
  source: "plan" | "tenant";
}

interface BudgetSource {
  plans: Record<string, PlanConfig>;
  tenants: Record<string, TenantConfig>;
}

/** The tenant's budget; undefined for an unknown tenant or when neither plan nor tenant sets an amount. */
export function tenantBudget(config: BudgetSource, tenant: string): TenantBudget | undefined {
  if (!Object.hasOwn(config.tenants, tenant)) return undefined;
  const t = config.tenants[tenant]!;
  const plan = Object.hasOwn(config.plans, t.plan) ? config.plans[t.plan] : undefined;
  if (!plan) return undefined;
  const base = plan.budget ?? { pacing: [], stop_promotions_at: 1, on_exhausted: "refuse" as const };
  const o = t.budget ?? {};
  const merged: TenantBudget = {
    tenant,
    plan: t.plan,
    source: o.monthly_usd !== undefined || o.daily_usd !== undefined ? "tenant" : "plan",
    pacing: [...(o.pacing ?? base.pacing)].sort((a, b) => a.at - b.at),
    stop_promotions_at: o.stop_promotions_at ?? base.stop_promotions_at,
    on_exhausted: o.on_exhausted ?? base.on_exhausted,
  };
  const monthly = o.monthly_usd ?? base.monthly_usd;
  const daily = o.daily_usd ?? base.daily_usd;
  if (monthly !== undefined) merged.monthly_usd = monthly;
  if (daily !== undefined) merged.daily_usd = daily;
  return monthly === undefined && daily === undefined ? undefined : merged;
}

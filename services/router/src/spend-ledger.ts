import { tenantBudget, type Config } from "@tiermesh/config";

/**
 * Month-to-date spend per tenant as this router has seen it, to keep promotions (which
 * cost more) away from tenants over their plan's monthly budget. Counted per router
 * process; shared, durable budget enforcement is separate work.
 */
export class SpendLedger {
  private readonly spent = new Map<string, { month: string; usd: number }>();

  constructor(private readonly config: () => Pick<Config, "tenants" | "plans">) {}

  add(tenant: string, usd: number, now = new Date()): void {
    const month = monthOf(now);
    const entry = this.spent.get(tenant);
    if (entry && entry.month === month) entry.usd += usd;
    else this.spent.set(tenant, { month, usd });
  }

  spentUsd(tenant: string, now = new Date()): number {
    const entry = this.spent.get(tenant);
    return entry && entry.month === monthOf(now) ? entry.usd : 0;
  }

  /** Why the tenant may not be promoted on budget grounds; undefined when it may. */
  overBudget(tenant: string, now = new Date()): string | undefined {
    const budget = this.budgetUsd(tenant);
    if (budget === undefined) return undefined;
    const spent = this.spentUsd(tenant, now);
    return spent >= budget ? `tenant ${tenant} has spent $${spent.toFixed(2)} of its $${budget} monthly budget` : undefined;
  }

  /** The monthly budget of the tenant's plan; undefined for a plan without one or an unknown tenant. */
  budgetUsd(tenant: string): number | undefined {
    return tenantBudget(this.config(), tenant)?.monthly_usd;
  }

  /** Every configured tenant's month-to-date spend here and its plan's budget, for metrics. */
  tenants(now = new Date()): { tenant: string; spentUsd: number; budgetUsd: number | undefined }[] {
    return Object.keys(this.config().tenants).map((tenant) => ({ tenant, spentUsd: this.spentUsd(tenant, now), budgetUsd: this.budgetUsd(tenant) }));
  }
}

const monthOf = (d: Date) => `${d.getUTCFullYear()}-${d.getUTCMonth() + 1}`;

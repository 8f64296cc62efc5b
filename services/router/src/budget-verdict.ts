import type { TenantBudget } from "@tiermesh/config";
import type { PeriodSpend } from "@tiermesh/ledger";

/** What a tenant's spend means for one request. */
export interface BudgetVerdict {
  /** Refuse the request (100% of a budget spent, `on_exhausted: refuse`): the message names the budget. */
  refuse?: { message: string; period: "month" | "day" } | undefined;
  /** Serve at this tier at most (budget pacing), with why. */
  maxTier?: { tier: string; why: string } | undefined;
  /** Do not promote, with why. */
  noPromotion?: string | undefined;
  /** Share of the budget spent, the highest of month and day. */
  used: number;
}

const usd = (n: number) => `$${n.toFixed(2)}`;

/**
 * The budget's verdict on spend `spent` (aggregates, every router's holds and this router's
 * own): from `stop_promotions_at` no promotions; from each pacing step's `at`, that step's
 * tier at most; at 100% of the monthly or daily amount, refusal (or, with `on_exhausted:
 * serve`, service at the entitled tier without promotions).
 */
export function budgetVerdict(budget: TenantBudget, spent: PeriodSpend, period: { month: string; day: string }): BudgetVerdict {
  const month = budget.monthly_usd !== undefined ? spent.monthUsd / budget.monthly_usd : 0;
  const day = budget.daily_usd !== undefined ? spent.dayUsd / budget.daily_usd : 0;
  const byDay = day > month;
  // Rounded: costs summed in floating point (ten times $0.10 is $0.9999999999999999) must reach the budget.
  const used = Math.round(Math.max(month, day) * 1e9) / 1e9;
  const whose = budget.source === "tenant" ? `tenant ${budget.tenant}'s` : `plan ${budget.plan}'s`;
  const which = byDay
    ? `${whose} daily budget of ${usd(budget.daily_usd!)} for ${period.day}`
    : `${whose} monthly budget of ${usd(budget.monthly_usd!)} for ${period.month}`;
  const spentText = `tenant ${budget.tenant} has spent ${usd(byDay ? spent.dayUsd : spent.monthUsd)} (${Math.floor(used * 100)}%) of ${which}`;
  const verdict: BudgetVerdict = { used };
  if (used >= 1) {
    if (budget.on_exhausted === "refuse") verdict.refuse = { message: `budget exhausted: ${spentText}`, period: byDay ? "day" : "month" };
    verdict.noPromotion = spentText;
    return verdict;
  }
  if (used >= budget.stop_promotions_at)
    verdict.noPromotion = `${spentText}; no promotions from ${Math.round(budget.stop_promotions_at * 100)}%`;
  const step = budget.pacing.filter((s) => used >= s.at).at(-1);
  if (step)
    verdict.maxTier = {
      tier: step.max_tier,
      why: `budget pacing: ${spentText}; served at ${step.max_tier} at most from ${Math.round(step.at * 100)}%`,
    };
  return verdict;
}

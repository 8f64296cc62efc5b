import type { RateLimits } from "@tiermesh/config";
import type { PlanPromise } from "./plan-promise.js";
import type { ModelPromise, TierMove, TierPromise } from "./tier-promise.js";

/** Plain-language wording of promises, shared by the plan sheet and the config diff. */

export const count = (n: number): string => n.toLocaleString("en-US");

export const percent = (share: number): string => `${Number((share * 100).toFixed(3))}%`;

export function duration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  const s = ms / 1_000;
  return s < 120 ? `${Number(s.toFixed(2))} s` : `${Number((s / 60).toFixed(2))} min`;
}

export function usd(amount: number): string {
  const digits = amount !== 0 && Math.abs(amount) < 0.01 ? 4 : 2;
  return `$${amount.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: digits })}`;
}

export const ttftObjective = (t: TierPromise): string => `${percent(t.latencyTarget)} of answers start within ${duration(t.ttftMs)}`;

export const availabilityObjective = (t: TierPromise): string => `${percent(t.availabilityTarget)} of attempts succeed`;

export function modelWords(m: ModelPromise): string {
  const window = m.contextWindow === undefined ? "" : `, ${count(m.contextWindow)}-token context`;
  return `${m.model} (${m.provider}): ${usd(m.inputPerMtok)} in / ${usd(m.outputPerMtok)} out per 1M tokens${window}`;
}

const chainWords = (chain: readonly string[]) => chain.join(", then ");

/** What happens to a tier's requests on a move (degraded or down). */
export function moveWords(tier: string, move: TierMove, down: boolean): string {
  if (move.kind === "stay") return `stay on ${tier}`;
  if (move.kind === "fallback")
    return move.chain.length > 0 ? `served by ${chainWords(move.chain)}` : `stay on ${tier} (no tier below it within the plan)`;
  const otherwise = down ? (move.otherwise.length > 0 ? `served by ${chainWords(move.otherwise)}` : `stay on ${tier}`) : `stay on ${tier}`;
  if (move.to === undefined) return `${otherwise} (no higher tier within the plan's ceiling to promote to)`;
  const budget = move.budgetGated ? ", while the budget allows promotions" : "";
  return `promoted to ${move.to} (up to ${percent(move.share)} of its capacity${budget}); otherwise ${otherwise}`;
}

export const fallbackWords = (t: TierPromise): string =>
  t.fallbackChain.length > 0
    ? `retried on ${chainWords(t.fallbackChain)} in the same request`
    : "no lower tier to retry on within the plan";

export function returnWords(t: TierPromise): string {
  return `${t.returnSteps.map(percent).join(", ")} of its traffic returns, one step every ${duration(t.returnStepMs)}`;
}

export const rpmWords = (l: RateLimits): string =>
  l.requestsPerMinute === undefined ? "no limit on requests per minute" : `${count(l.requestsPerMinute)} requests per minute`;

export const tpmWords = (l: RateLimits): string =>
  l.tokensPerMinute === undefined ? "no limit on tokens per minute" : `${count(l.tokensPerMinute)} tokens per minute`;

/** Completion tokens charged for a request that sets no max_tokens. */
export function outputEstimateWords(l: RateLimits, tiers: readonly TierPromise[]): string {
  if (l.outputTokensEstimate !== undefined) return `${count(l.outputTokensEstimate)} tokens`;
  const values = [...new Set(tiers.map((t) => t.defaultMaxTokens))];
  return values.length === 1
    ? `${count(values[0]!)} tokens (the tiers' default max_tokens)`
    : `the tier's default max_tokens (${tiers.map((t) => `${t.tier} ${count(t.defaultMaxTokens)}`).join(", ")})`;
}

/** The budget in words: how much per month and day, and what happens as spend nears it. */
export function budgetWords(p: PlanPromise): string {
  const b = p.budget;
  if (!b || (b.monthly_usd === undefined && b.daily_usd === undefined)) return "no budget";
  const amounts = [
    b.monthly_usd !== undefined ? `${usd(b.monthly_usd)} a month` : "",
    b.daily_usd !== undefined ? `${usd(b.daily_usd)} a day` : "",
  ].filter(Boolean);
  const steps: string[] = [];
  if (b.stop_promotions_at < 1) steps.push(`from ${percent(b.stop_promotions_at)} of it, requests are no longer promoted to a higher tier`);
  for (const s of [...b.pacing].sort((x, y) => x.at - y.at)) steps.push(`from ${percent(s.at)}, they are served on ${s.max_tier} at most`);
  steps.push(
    b.on_exhausted === "refuse"
      ? "at 100%, requests are refused (HTTP 429, insufficient_quota) until the period ends"
      : `at 100%, requests are no longer promoted${b.stop_promotions_at < 1 ? "" : " to a higher tier"} (they are still served on their own tier)`,
  );
  return `${amounts.join(" and ")} of spend per tenant (UTC calendar ${amounts.length > 1 ? "month and day; the nearer to its budget counts" : b.monthly_usd !== undefined ? "month" : "day"}): ${steps.join("; ")}`;
}

export const rangeWords = (p: PlanPromise): string => `${p.floor} to ${p.ceiling} (default ${p.defaultTier})`;

export const hintWords = (p: PlanPromise): string =>
  p.hintAboveMax === "clamp" ? `served on ${p.ceiling}` : "refused (permission denied)";

import type { Config, RuleConfig, TierLadder } from "@tiermesh/config";

/** A classifier rule as it applies to one plan: its conditions in words and where it sends requests. */
export interface RulePromise {
  id: string;
  /** The conditions, in plain words ("urgency batch"); empty: every request. */
  when: string[];
  /** The rule's tier, clamped into the plan's range. */
  tier: string;
  /** The rule's tier when the plan's range moved it. */
  clampedFrom: string | undefined;
  reason: string | undefined;
}

/** The rules that can apply to `plan` (or to `tenant` on it), in order: rules for other plans, other tenants or urgencies the plan does not allow are left out. */
export function rulePromises(config: Config, plan: string, tenant: string | undefined, ladder: TierLadder): RulePromise[] {
  const p = config.plans[plan]!;
  const floor = p.min_tier ?? ladder.lowest;
  return (
    config.classifier.rules
      .filter((r) => r.when.plans === undefined || r.when.plans.includes(plan))
      // A plan's sheet names no tenant: rules for particular tenants show only on their own sheet.
      .filter((r) => r.when.tenants === undefined || (tenant !== undefined && r.when.tenants.includes(tenant)))
      .filter((r) => r.when.urgencies === undefined || r.when.urgencies.some((u) => p.urgencies.includes(u)))
      .map((r) => {
        const tier = ladder.clamp(r.tier, floor, p.max_tier);
        return { id: r.id, when: conditions(r), tier, clampedFrom: tier === r.tier ? undefined : r.tier, reason: r.reason };
      })
  );
}

const list = (xs: readonly string[]) => xs.join(" or ");

function conditions(rule: RuleConfig): string[] {
  const w = rule.when;
  const out: string[] = [];
  if (w.urgencies !== undefined) out.push(`urgency ${list(w.urgencies)}`);
  if (w.prompt_tokens_over !== undefined) out.push(`prompt over ${w.prompt_tokens_over.toLocaleString("en-US")} tokens`);
  if (w.max_tokens_over !== undefined) out.push(`max_tokens over ${w.max_tokens_over.toLocaleString("en-US")}`);
  if (w.models !== undefined) out.push(`model ${list(w.models)}`);
  if (w.tools !== undefined) out.push(w.tools ? "the request offers tools" : "the request offers no tools");
  if (w.json_mode !== undefined) out.push(w.json_mode ? "JSON output asked for" : "no JSON output asked for");
  if (w.deadline_under_ms !== undefined) out.push(`deadline under ${w.deadline_under_ms.toLocaleString("en-US")} ms`);
  return out;
}

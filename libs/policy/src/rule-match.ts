import type { RuleConfig, Urgency } from "@tiermesh/config";
import type { PromptFeatures } from "./prompt-features.js";

export interface RuleSubject {
  tenant: string;
  plan: string;
  urgency: Urgency;
  features: PromptFeatures;
}

/**
 * The first condition of `rule` that `s` fails, in words; undefined when every condition
 * holds. Used both to decide and to explain.
 */
export function failedCondition(rule: RuleConfig, s: RuleSubject): string | undefined {
  const w = rule.when;
  const f = s.features;
  if (w.plans && !w.plans.includes(s.plan)) return `plan ${s.plan} not in [${w.plans.join(", ")}]`;
  if (w.tenants && !w.tenants.includes(s.tenant)) return `tenant ${s.tenant} not in [${w.tenants.join(", ")}]`;
  if (w.urgencies && !w.urgencies.includes(s.urgency)) return `urgency ${s.urgency} not in [${w.urgencies.join(", ")}]`;
  if (w.prompt_tokens_over !== undefined && !f.prompt.over(w.prompt_tokens_over)) {
    return `prompt of ${f.prompt.describe()} is not over ${w.prompt_tokens_over}`;
  }
  if (w.max_tokens_over !== undefined && !(f.maxTokens > w.max_tokens_over))
    return `max_tokens ${f.maxTokens} is not over ${w.max_tokens_over}`;
  if (w.models && !w.models.includes(f.model)) return `model "${f.model}" not in [${w.models.join(", ")}]`;
  if (w.tools !== undefined && w.tools !== f.hasTools) return w.tools ? "request offers no tools" : "request offers tools";
  if (w.json_mode !== undefined && w.json_mode !== f.jsonMode)
    return w.json_mode ? "request is not in JSON mode" : "request is in JSON mode";
  if (w.deadline_under_ms !== undefined && !(f.deadlineMs > 0 && f.deadlineMs < w.deadline_under_ms)) {
    return f.deadlineMs > 0 ? `deadline of ${f.deadlineMs} ms is not under ${w.deadline_under_ms} ms` : "no deadline given";
  }
  return undefined;
}

/** The largest token count any rule compares against. */
export function largestTokenThreshold(rules: readonly RuleConfig[]): number {
  return rules.reduce((max, r) => Math.max(max, r.when.prompt_tokens_over ?? 0), 0);
}

import type { PlanPromise } from "./plan-promise.js";
import {
  availabilityObjective,
  budgetWords,
  count,
  fallbackWords,
  hintWords,
  modelWords,
  moveWords,
  outputEstimateWords,
  returnWords,
  rpmWords,
  tpmWords,
  ttftObjective,
} from "./promise-wording.js";

/** Marks a limit the tenant sets itself. */
export const OWN_LIMIT = " (the tenant's own limit)";

/**
 * A promise as labelled facts in words ("tier gold: time to first token" → "95% of answers
 * start within 800 ms"), so two promises compare fact by fact and every difference reads as
 * the sheet would put it.
 */
export function promiseFacts(p: PlanPromise): Map<string, string> {
  const facts = new Map<string, string>();
  const own = (key: PlanPromise["ownLimits"][number]) => (p.ownLimits.includes(key) ? OWN_LIMIT : "");
  facts.set("tiers", `${p.floor} to ${p.ceiling}`);
  facts.set("ceiling", p.ceiling);
  facts.set("floor", p.floor);
  facts.set("default tier", p.defaultTier);
  facts.set("urgencies", `${p.urgencies.join(", ")} (default ${p.defaultUrgency})`);
  facts.set("a tier asked for above the ceiling", hintWords(p));
  facts.set("prompt limit", `${count(p.maxPromptTokens)} tokens`);
  for (const r of p.rules) facts.set(`rule ${r.id}`, `${r.when.length > 0 ? r.when.join(" and ") : "every request"}: ${r.tier}`);
  facts.set("requests per minute", rpmWords(p.limits) + own("requestsPerMinute"));
  facts.set("tokens per minute", tpmWords(p.limits) + own("tokensPerMinute"));
  if (p.limits.tokensPerMinute !== undefined)
    facts.set("output tokens counted without max_tokens", outputEstimateWords(p.limits, p.tiers) + own("outputTokensEstimate"));
  facts.set("budget", budgetWords(p));
  for (const t of p.tiers) {
    const at = (what: string) => `tier ${t.tier}: ${what}`;
    facts.set(at("time to first token"), ttftObjective(t));
    facts.set(at("availability"), availabilityObjective(t));
    for (const m of t.models) facts.set(at(`model ${m.model} (${m.provider})`), modelWords(m));
    facts.set(at("while degraded"), moveWords(t.tier, t.onDegraded, false));
    facts.set(at("while down"), moveWords(t.tier, t.onDown, true));
    facts.set(at("a request that fails before its answer starts"), fallbackWords(t));
    facts.set(at("after an outage"), returnWords(t));
    facts.set(at("answers cut mid-stream"), t.continuation ? "continued from their text" : "end with an error");
  }
  return facts;
}

export interface FactChange {
  fact: string;
  before: string | undefined;
  after: string | undefined;
}

/** The facts that differ, in the order they appear (before's order, then facts only in after). */
export function factChanges(before: Map<string, string>, after: Map<string, string>): FactChange[] {
  const out: FactChange[] = [];
  for (const [fact, b] of before) {
    const a = after.get(fact);
    if (a !== b) out.push({ fact, before: b, after: a });
  }
  for (const [fact, a] of after) if (!before.has(fact)) out.push({ fact, before: undefined, after: a });
  return out;
}

const TIER_FACT = /^tier ([^:]+): /;

/**
 * Changes in words, one line each; a tier that joins or leaves the plan's range is one line
 * (what it promises, when it joins), not one per fact.
 */
export function changeLines(changes: readonly FactChange[]): string[] {
  const byTier = new Map<string, FactChange[]>();
  for (const c of changes) {
    const tier = TIER_FACT.exec(c.fact)?.[1];
    if (tier !== undefined) byTier.set(tier, [...(byTier.get(tier) ?? []), c]);
  }
  const whole = new Map<string, "joins" | "leaves">();
  for (const [tier, cs] of byTier) {
    if (cs.every((c) => c.before === undefined) && cs.some((c) => c.fact.endsWith(": availability"))) whole.set(tier, "joins");
    if (cs.every((c) => c.after === undefined) && cs.some((c) => c.fact.endsWith(": availability"))) whole.set(tier, "leaves");
  }
  const lines: string[] = [];
  const said = new Set<string>();
  for (const c of changes) {
    const tier = TIER_FACT.exec(c.fact)?.[1];
    const move = tier === undefined ? undefined : whole.get(tier);
    if (tier === undefined || move === undefined) {
      lines.push(changeWords(c));
      continue;
    }
    if (said.has(tier)) continue;
    said.add(tier);
    const facts = byTier.get(tier)!;
    const pick = (what: string) => facts.find((f) => f.fact === `tier ${tier}: ${what}`)?.after;
    const models = facts.filter((f) => f.fact.startsWith(`tier ${tier}: model `)).map((f) => f.after);
    lines.push(
      move === "leaves"
        ? `tier ${tier}: no longer used for this plan`
        : `tier ${tier}: now used for this plan (${pick("time to first token")}; ${pick("availability")}; models ${models.join("; ")})`,
    );
  }
  return lines;
}

export function changeWords(c: FactChange): string {
  if (c.before === undefined) return `${c.fact}: now ${c.after}`;
  if (c.after === undefined) return `${c.fact}: no longer (was ${c.before})`;
  return `${c.fact}: ${c.before} → ${c.after}`;
}

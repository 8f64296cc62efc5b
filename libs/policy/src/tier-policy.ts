import { Code, ConnectError } from "@connectrpc/connect";
import { TierLadder, urgencies, type Urgency } from "@tiermesh/config";
import { ERROR_REASON_HEADER, PROMPT_TOO_LARGE, type CompletionInput } from "@tiermesh/proto";
import type { PolicyDocument } from "./policy-document.js";
import { ModelCatalog, type ModelEntry } from "./model-catalog.js";
import { promptFeatures } from "./prompt-features.js";
import { failedCondition, largestTokenThreshold } from "./rule-match.js";
import { TokenCounter } from "./token-counter.js";

export interface Classification {
  tier: string;
  ruleIds: string[];
  reasons: string[];
  minTier: string;
  maxTier: string;
  tenant: string;
  plan: string;
  urgency: Urgency;
  /** Prompt tokens, counted on first read (a plain value once read). */
  readonly promptTokens: number;
  /** True when the prompt has more than `n` tokens; cheap for prompts clearly shorter. */
  promptTokensOver(n: number): boolean;
}

/** How each rule fared for one request. */
export interface RuleTrace {
  id: string;
  tier: string;
  matched: boolean;
  /** Why the rule did not match; absent when it matched or was not reached. */
  because?: string;
  /** False for rules after the first match (they were not evaluated). */
  evaluated: boolean;
}

export type Classify = (tenant: string, input: CompletionInput | undefined, deadlineMs?: number) => Classification;
export type Explain = (
  tenant: string,
  input: CompletionInput | undefined,
  deadlineMs?: number,
) => { result: Classification; rules: RuleTrace[] };
/** The model names a tenant's plan may use (throws UNAUTHENTICATED for an unknown tenant). */
export type ListModels = (tenant: string) => ModelEntry[];
/** A compiled policy: classification, its explanation, and the model names per plan. */
export type CompiledPolicy = Classify & { explain: Explain; models: ListModels };

const isUrgency = (u: string): u is Urgency => (urgencies as readonly string[]).includes(u);

/**
 * Compiles the config's plans, tenants and rules into a classification function.
 * Rules are evaluated in order; the first match decides. The plan's max_tier is a hard
 * ceiling nothing in the request can lift, and min_tier a floor. A model naming a tier (or a
 * pool model of one) asks for that tier as a tier hint does, after the rules; one the plan may
 * not use is NOT_FOUND (see ModelCatalog).
 */
export function compileTierPolicy(config: PolicyDocument): CompiledPolicy {
  const ladder = new TierLadder(config.tiers);
  const rules = config.rules;
  const counter = new TokenCounter();
  const ruleTokenLimit = largestTokenThreshold(rules);
  // A Map, not the config object: tenant names come from callers ("constructor" must be unknown).
  const tenants = new Map(Object.entries(config.tenants));
  const catalog = new ModelCatalog(config, ladder);
  const planOf = (tenantName: string) => {
    const tenant = tenants.get(tenantName);
    if (tenant === undefined) throw new ConnectError(`unknown tenant "${tenantName}"`, Code.Unauthenticated);
    const plan = config.plans[tenant.plan]!;
    return { name: tenant.plan, plan, maxTier: plan.max_tier, minTier: plan.min_tier ?? ladder.lowest };
  };

  const run = (
    tenantName: string,
    input: CompletionInput | undefined,
    deadlineMs: number,
    trace: RuleTrace[] | undefined,
  ): Classification => {
    const { name: planName, plan, maxTier, minTier } = planOf(tenantName);

    const requested = input?.urgency ?? "";
    if (requested !== "" && !isUrgency(requested)) {
      throw new ConnectError(`input.urgency: unknown urgency "${requested}" (one of ${urgencies.join(", ")})`, Code.InvalidArgument);
    }
    const urgency: Urgency = requested === "" ? plan.default_urgency : requested;
    if (!plan.urgencies.includes(urgency)) {
      throw new ConnectError(`input.urgency: plan "${planName}" does not allow urgency "${urgency}"`, Code.PermissionDenied);
    }
    if (!input || input.messages.length === 0) {
      throw new ConnectError("input.messages: at least one message is required", Code.InvalidArgument);
    }
    input.messages.forEach((m, i) => {
      if (m.role === "") throw new ConnectError(`input.messages[${i}].role: required`, Code.InvalidArgument);
    });
    const hint = input.tierHint;
    if (hint !== "" && !ladder.has(hint)) {
      throw new ConnectError(`input.tier_hint: unknown tier "${hint}" (tiers: ${ladder.names.join(", ")})`, Code.InvalidArgument);
    }
    const modelTier = catalog.resolve(input.model, planName, minTier, maxTier);
    const limit = plan.limits.max_prompt_tokens;
    const features = promptFeatures(input, deadlineMs, counter, Math.max(limit, ruleTokenLimit));
    const prompt = features.prompt;
    // Explaining shows exact counts; deciding counts only when the byte length cannot tell.
    if (trace) prompt.count();
    if (prompt.over(limit)) {
      const counted = prompt.count();
      const size = counted.exact ? `${counted.tokens} tokens` : `more than ${limit} tokens`;
      throw new ConnectError(`input.messages: prompt of ${size} exceeds plan "${planName}" limit of ${limit}`, Code.ResourceExhausted, {
        [ERROR_REASON_HEADER]: PROMPT_TOO_LARGE,
      });
    }

    let tier = plan.default_tier;
    const ruleIds: string[] = [];
    const reasons: string[] = [];
    const subject = { tenant: tenantName, plan: planName, urgency, features };
    let decided = false;
    for (const rule of rules) {
      if (decided) {
        trace?.push({ id: rule.id, tier: rule.tier, matched: false, evaluated: false });
        continue;
      }
      const because = failedCondition(rule, subject);
      if (trace)
        trace.push({ id: rule.id, tier: rule.tier, matched: because === undefined, evaluated: true, ...(because ? { because } : {}) });
      if (because !== undefined) continue;
      tier = rule.tier;
      ruleIds.push(rule.id);
      reasons.push(rule.reason ?? `rule ${rule.id} assigned ${rule.tier}`);
      decided = true;
      if (!trace) break;
    }
    if (!decided) reasons.push(`plan ${planName} default tier ${tier}`);

    if (hint !== "") {
      if (ladder.above(hint, maxTier) && plan.hint_above_max === "reject") {
        throw new ConnectError(`input.tier_hint: tier "${hint}" is above plan "${planName}" entitlement ${maxTier}`, Code.PermissionDenied);
      }
      tier = hint;
      reasons.push(`tier hint ${hint}`);
      if (modelTier !== undefined && modelTier !== hint) reasons.push(`model ${input.model} (tier ${modelTier}) gave way to the tier hint`);
    } else if (modelTier !== undefined) {
      tier = modelTier;
      reasons.push(
        input.model === modelTier ? `model ${modelTier} asks for tier ${modelTier}` : `model ${input.model} is in tier ${modelTier}'s pool`,
      );
    }
    const clamped = ladder.clamp(tier, minTier, maxTier);
    if (clamped !== tier) {
      reasons.push(`clamped ${tier} to ${clamped}: plan ${planName} allows ${minTier}..${maxTier}`);
      tier = clamped;
    }
    return {
      tier,
      ruleIds,
      reasons,
      minTier,
      maxTier,
      tenant: tenantName,
      plan: planName,
      urgency,
      get promptTokens() {
        return prompt.count().tokens;
      },
      promptTokensOver: (n: number) => prompt.over(n),
    };
  };

  const classify = (tenant: string, input: CompletionInput | undefined, deadlineMs = 0) => run(tenant, input, deadlineMs, undefined);
  classify.explain = (tenant: string, input: CompletionInput | undefined, deadlineMs = 0) => {
    const rules: RuleTrace[] = [];
    return { result: run(tenant, input, deadlineMs, rules), rules };
  };
  classify.models = (tenant: string) => {
    const { minTier, maxTier } = planOf(tenant);
    return catalog.list(minTier, maxTier);
  };
  return classify;
}

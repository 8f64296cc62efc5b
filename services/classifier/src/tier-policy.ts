import { Code, ConnectError } from "@connectrpc/connect";
import { TierLadder, urgencies, type Config, type RuleConfig, type Urgency } from "@tiermesh/config";
import type { CompletionInput } from "@tiermesh/proto";
import { promptFeatures, type PromptFeatures } from "./prompt-features.js";

export interface Classification {
  tier: string;
  ruleIds: string[];
  reasons: string[];
  minTier: string;
  maxTier: string;
  tenant: string;
  plan: string;
  urgency: Urgency;
  promptTokens: number;
}

export type Classify = (tenant: string, input: CompletionInput | undefined) => Classification;

const isUrgency = (u: string): u is Urgency => (urgencies as readonly string[]).includes(u);

function matches(rule: RuleConfig, plan: string, urgency: Urgency, f: PromptFeatures): boolean {
  const w = rule.when;
  return (
    (w.plans === undefined || w.plans.includes(plan)) &&
    (w.urgencies === undefined || w.urgencies.includes(urgency)) &&
    (w.prompt_tokens_over === undefined || f.promptTokens > w.prompt_tokens_over) &&
    (w.max_tokens_over === undefined || f.maxTokens > w.max_tokens_over) &&
    (w.models === undefined || w.models.includes(f.model))
  );
}

/**
 * Compiles the config's plans, tenants and rules into one classification function.
 * Rules are evaluated in order; the first match decides. The plan's max_tier is a hard
 * ceiling nothing in the request can lift.
 */
export function compileTierPolicy(config: Config): Classify {
  const ladder = new TierLadder(config.tiers);
  const rules = config.classifier.rules;
  return (tenantName, input) => {
    const tenant = config.tenants[tenantName];
    if (tenant === undefined) throw new ConnectError(`unknown tenant "${tenantName}"`, Code.Unauthenticated);
    const planName = tenant.plan;
    const plan = config.plans[planName]!;
    const maxTier = plan.max_tier;
    const minTier = plan.min_tier ?? ladder.lowest;

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
    const features = promptFeatures(input);
    if (features.promptTokens > plan.limits.max_prompt_tokens) {
      throw new ConnectError(
        `input.messages: prompt of ${features.promptTokens} tokens exceeds plan "${planName}" limit of ${plan.limits.max_prompt_tokens}`,
        Code.ResourceExhausted,
      );
    }

    let tier = plan.default_tier;
    const ruleIds: string[] = [];
    const reasons: string[] = [];
    const rule = rules.find((r) => matches(r, planName, urgency, features));
    if (rule) {
      tier = rule.tier;
      ruleIds.push(rule.id);
      reasons.push(rule.reason ?? `rule ${rule.id} assigned ${rule.tier}`);
    } else {
      reasons.push(`plan ${planName} default tier ${tier}`);
    }

    const hint = input.tierHint;
    if (hint !== "") {
      if (!ladder.has(hint)) {
        throw new ConnectError(`input.tier_hint: unknown tier "${hint}" (tiers: ${ladder.names.join(", ")})`, Code.InvalidArgument);
      }
      if (ladder.above(hint, maxTier) && plan.hint_above_max === "reject") {
        throw new ConnectError(`input.tier_hint: tier "${hint}" is above plan "${planName}" entitlement ${maxTier}`, Code.PermissionDenied);
      }
      tier = hint;
      reasons.push(`tier hint ${hint}`);
    }

    const clamped = ladder.clamp(tier, minTier, maxTier);
    if (clamped !== tier) {
      reasons.push(`clamped ${tier} to ${clamped}: plan ${planName} allows ${minTier}..${maxTier}`);
      tier = clamped;
    }
    return { tier, ruleIds, reasons, minTier, maxTier, tenant: tenantName, plan: planName, urgency, promptTokens: features.promptTokens };
  };
}

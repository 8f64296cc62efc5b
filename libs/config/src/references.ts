import type { z } from "zod";
import type { PlanConfig, RuleConfig, TenantConfig } from "./tenancy-schema.js";
import type { TierConfig } from "./tier-schema.js";

interface Referenced {
  providers: Record<string, unknown>;
  tiers: Record<string, TierConfig>;
  plans: Record<string, PlanConfig>;
  tenants: Record<string, TenantConfig>;
  classifier: { rules: RuleConfig[] };
  router: { anonymous_tenant?: string | undefined };
}

/** Cross-field checks: every name a section uses must be defined, and tier order must make sense. */
export function checkReferences(cfg: Referenced, ctx: z.RefinementCtx): void {
  // Own keys only: "constructor" or "toString" must not pass as defined names.
  const has = (o: object, key: string) => Object.hasOwn(o, key);
  const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: "custom", path, message });
  const tierNames = Object.keys(cfg.tiers);
  const unknownTier = (name: string) => `unknown tier "${name}" (tiers: ${tierNames.join(", ")})`;
  const ranks = new Map<number, string>();
  for (const [name, tier] of Object.entries(cfg.tiers)) {
    const same = ranks.get(tier.rank);
    if (same !== undefined) fail(["tiers", name, "rank"], `rank ${tier.rank} is also used by tier "${same}"`);
    ranks.set(tier.rank, name);
    if (tier.fallback !== undefined) {
      const fb = has(cfg.tiers, tier.fallback) ? cfg.tiers[tier.fallback] : undefined;
      if (fb === undefined) fail(["tiers", name, "fallback"], unknownTier(tier.fallback));
      else if (fb.rank >= tier.rank) fail(["tiers", name, "fallback"], `fallback "${tier.fallback}" must rank lower than "${name}"`);
    }
    const promote = tier.routing.promote_to;
    if (promote !== undefined) {
      if (!has(cfg.tiers, promote)) fail(["tiers", name, "routing", "promote_to"], unknownTier(promote));
      else if (cfg.tiers[promote]!.rank <= tier.rank)
        fail(["tiers", name, "routing", "promote_to"], `"${promote}" must rank higher than "${name}"`);
    }
    const floor = tier.routing.floor;
    if (floor !== undefined) {
      if (!has(cfg.tiers, floor)) fail(["tiers", name, "routing", "floor"], unknownTier(floor));
      else if (cfg.tiers[floor]!.rank > tier.rank) fail(["tiers", name, "routing", "floor"], `floor "${floor}" ranks above "${name}"`);
    }
    tier.models.forEach((m, i) => {
      if (!has(cfg.providers, m.provider)) fail(["tiers", name, "models", i, "provider"], `unknown provider "${m.provider}"`);
    });
  }
  for (const [name, plan] of Object.entries(cfg.plans)) {
    for (const key of ["default_tier", "max_tier", "min_tier"] as const) {
      const t = plan[key];
      if (t !== undefined && !has(cfg.tiers, t)) fail(["plans", name, key], unknownTier(t));
    }
    const rank = (t: string | undefined) => (t === undefined || !has(cfg.tiers, t) ? undefined : cfg.tiers[t]!.rank);
    const [def, max, min] = [rank(plan.default_tier), rank(plan.max_tier), rank(plan.min_tier)];
    if (def !== undefined && max !== undefined && def > max) fail(["plans", name, "default_tier"], "default_tier ranks above max_tier");
    if (min !== undefined && max !== undefined && min > max) fail(["plans", name, "min_tier"], "min_tier ranks above max_tier");
    if (!plan.urgencies.includes(plan.default_urgency)) fail(["plans", name, "default_urgency"], "default_urgency is not in urgencies");
    plan.budget?.pacing.forEach((step, i) => {
      if (!has(cfg.tiers, step.max_tier)) fail(["plans", name, "budget", "pacing", i, "max_tier"], unknownTier(step.max_tier));
    });
  }
  const keyOwners = new Map<string, string>();
  for (const [name, tenant] of Object.entries(cfg.tenants)) {
    if (!has(cfg.plans, tenant.plan)) fail(["tenants", name, "plan"], `unknown plan "${tenant.plan}"`);
    tenant.budget?.pacing?.forEach((step, i) => {
      if (!has(cfg.tiers, step.max_tier)) fail(["tenants", name, "budget", "pacing", i, "max_tier"], unknownTier(step.max_tier));
    });
    tenant.api_key_sha256.forEach((h, i) => {
      const owner = keyOwners.get(h);
      if (owner !== undefined) fail(["tenants", name, "api_key_sha256", i], `key hash also belongs to tenant "${owner}"`);
      keyOwners.set(h, name);
    });
  }
  const anon = cfg.router.anonymous_tenant;
  if (anon !== undefined && !has(cfg.tenants, anon)) fail(["router", "anonymous_tenant"], `unknown tenant "${anon}"`);
  const ruleIds = new Set<string>();
  cfg.classifier.rules.forEach((rule, i) => {
    if (ruleIds.has(rule.id)) fail(["classifier", "rules", i, "id"], `duplicate rule id "${rule.id}"`);
    ruleIds.add(rule.id);
    if (!has(cfg.tiers, rule.tier)) fail(["classifier", "rules", i, "tier"], unknownTier(rule.tier));
    rule.when.plans?.forEach((p, j) => {
      if (!has(cfg.plans, p)) fail(["classifier", "rules", i, "when", "plans", j], `unknown plan "${p}"`);
    });
    rule.when.tenants?.forEach((t, j) => {
      if (!has(cfg.tenants, t)) fail(["classifier", "rules", i, "when", "tenants", j], `unknown tenant "${t}"`);
    });
  });
}

import { createHash } from "node:crypto";
import { z } from "zod";
import { planSchema, ruleSchema, type Config } from "@tiermesh/config";

/**
 * What classification needs from the config, and nothing else: the tier ladder with each
 * tier's pool models (the model names callers may ask for), plans, which plan each tenant is
 * on, and the rules. This is the document the classifier
 * publishes to routers; API keys and addresses stay out of it.
 */
export const policyDocumentSchema = z
  .strictObject({
    tiers: z.record(
      z.string(),
      z.strictObject({
        rank: z.number().int(),
        /** The tier's pool, for the model names callers may ask for (absent from older classifiers). */
        models: z.array(z.strictObject({ model: z.string(), provider: z.string() })).default([]),
      }),
    ),
    plans: z.record(z.string(), planSchema),
    tenants: z.record(z.string(), z.strictObject({ plan: z.string() })),
    rules: z.array(ruleSchema),
  })
  .superRefine((doc, ctx) => {
    const tier = (name: string | undefined, path: (string | number)[]) => {
      if (name !== undefined && !(name in doc.tiers)) ctx.addIssue({ code: "custom", path, message: `unknown tier "${name}"` });
    };
    if (Object.keys(doc.tiers).length === 0) ctx.addIssue({ code: "custom", path: ["tiers"], message: "at least one tier is required" });
    for (const [name, plan] of Object.entries(doc.plans)) {
      tier(plan.default_tier, ["plans", name, "default_tier"]);
      tier(plan.max_tier, ["plans", name, "max_tier"]);
      tier(plan.min_tier, ["plans", name, "min_tier"]);
    }
    for (const [name, tenant] of Object.entries(doc.tenants)) {
      if (!(tenant.plan in doc.plans))
        ctx.addIssue({ code: "custom", path: ["tenants", name, "plan"], message: `unknown plan "${tenant.plan}"` });
    }
    for (const [i, rule] of doc.rules.entries()) tier(rule.tier, ["rules", i, "tier"]);
  });

export type PolicyDocument = z.output<typeof policyDocumentSchema>;

/** The classification policy held in `config`. */
export function policyDocument(config: Config): PolicyDocument {
  return {
    tiers: Object.fromEntries(
      Object.entries(config.tiers).map(([name, t]) => [
        name,
        { rank: t.rank, models: t.models.map((m) => ({ model: m.model, provider: m.provider })) },
      ]),
    ),
    // Budgets are the routers' business (read from their own config) and stay out, so routers
    // of a release before budgets existed still accept the document.
    plans: Object.fromEntries(Object.entries(config.plans).map(([name, plan]) => [name, { ...plan, budget: undefined }])),
    tenants: Object.fromEntries(Object.entries(config.tenants).map(([name, t]) => [name, { plan: t.plan }])),
    rules: config.classifier.rules,
  };
}

/** A policy document as published: its JSON and a version that names its content. */
export interface PolicyEncoding {
  json: string;
  /** First 16 hex digits of the SHA-256 of `json`: equal content, equal version, on every replica. */
  version: string;
}

export function encodePolicy(doc: PolicyDocument): PolicyEncoding {
  const json = JSON.stringify(doc);
  return { json, version: createHash("sha256").update(json).digest("hex").slice(0, 16) };
}

/** Parses a published policy; throws a readable error naming the bad field. */
export function decodePolicy(json: string): PolicyDocument {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (cause) {
    throw new Error(`policy: not JSON (${(cause as Error).message})`, { cause });
  }
  const parsed = policyDocumentSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`policy.${issue.path.join(".")}: ${issue.message}`);
  }
  return parsed.data;
}

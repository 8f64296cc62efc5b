import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, TierLadder } from "@tiermesh/config";
import { CompletionInputSchema, ERROR_REASON_HEADER, MODEL_NOT_FOUND } from "@tiermesh/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { policyDocument } from "./policy-document.js";
import { compileTierPolicy } from "./tier-policy.js";

const yaml = `
router: { listen: 127.0.0.1:7400 }
health_monitor: { listen: 127.0.0.1:7402 }
classifier:
  listen: 127.0.0.1:7401
  rules:
    - { id: fast-alias, when: { models: [fast] }, tier: bronze }
providers:
  oa: { kind: openai, base_url: http://127.0.0.1:7490/v1 }
  an: { kind: anthropic, base_url: http://127.0.0.1:7491 }
tiers:
  gold:
    rank: 3
    executor: { listen: 127.0.0.1:7410 }
    models:
      - { provider: an, model: claude-big, price: { input_per_mtok: 1, output_per_mtok: 1 } }
      - { provider: oa, model: shared-model, price: { input_per_mtok: 1, output_per_mtok: 1 } }
  silver:
    rank: 2
    executor: { listen: 127.0.0.1:7411 }
    models:
      - { provider: oa, model: gpt-mid, price: { input_per_mtok: 1, output_per_mtok: 1 } }
      - { provider: oa, model: shared-model, price: { input_per_mtok: 1, output_per_mtok: 1 } }
  bronze:
    rank: 1
    executor: { listen: 127.0.0.1:7412 }
    models: [{ provider: oa, model: gpt-small, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
plans:
  enterprise: { default_tier: gold, max_tier: gold, min_tier: silver }
  free: { default_tier: bronze, max_tier: silver }
tenants:
  ent: { plan: enterprise }
  free: { plan: free }
`;

const policy = compileTierPolicy(policyDocument(parseConfig(yaml, "test.yaml", {})));
const ask = (tenant: string, model: string, tierHint = "") =>
  policy(tenant, create(CompletionInputSchema, { messages: [{ role: "user", content: "hi" }], model, tierHint }));

function notFound(run: () => unknown): ConnectError {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    return err as ConnectError;
  }
  throw new Error("expected NOT_FOUND");
}

describe("model names", () => {
  it("lists auto, the plan's tiers, their pool models with the provider as owner, and rule aliases", () => {
    expect(policy.models("free").map((m) => [m.id, m.ownedBy])).toEqual([
      ["auto", "tiermesh"],
      ["silver", "tiermesh"],
      ["bronze", "tiermesh"],
      ["gpt-mid", "oa"],
      ["shared-model", "oa"],
      ["gpt-small", "oa"],
      ["fast", "tiermesh"],
    ]);
    // The floor counts too: enterprise never goes below silver.
    expect(policy.models("ent").map((m) => m.id)).toEqual(["auto", "gold", "silver", "claude-big", "shared-model", "gpt-mid", "fast"]);
  });

  it("a tier's name or a pool model asks for that tier; auto and aliases leave it to the plan and rules", () => {
    expect(ask("free", "silver")).toMatchObject({
      tier: "silver",
      reasons: ["plan free default tier bronze", "model silver asks for tier silver"],
    });
    expect(ask("free", "gpt-mid").tier).toBe("silver");
    // In two pools: the highest the plan allows.
    expect(ask("free", "shared-model").tier).toBe("silver");
    expect(ask("ent", "shared-model").tier).toBe("gold");
    expect(ask("free", "auto").tier).toBe("bronze");
    expect(ask("ent", "fast")).toMatchObject({ tier: "silver", ruleIds: ["fast-alias"] });
  });

  it("a tier hint wins over the model's tier, and says so", () => {
    const c = ask("ent", "gold", "silver");
    expect(c.tier).toBe("silver");
    expect(c.reasons.join("; ")).toContain("model gold (tier gold) gave way to the tier hint");
  });

  it("a name that does not exist, or one above the plan's ceiling or below its floor, is NOT_FOUND with reason model-not-found", () => {
    for (const [tenant, model] of [
      ["free", "gpt-5"],
      ["free", "gold"],
      ["free", "claude-big"],
      ["ent", "bronze"],
      ["ent", "gpt-small"],
    ] as const) {
      const err = notFound(() => ask(tenant, model));
      expect(err.code, model).toBe(Code.NotFound);
      expect(err.metadata.get(ERROR_REASON_HEADER)).toBe(MODEL_NOT_FOUND);
      expect(err.rawMessage).toContain(`"${model}"`);
    }
  });

  it("property: whatever model a caller names, the tier stays within the plan", () => {
    const ladder = new TierLadder({ gold: { rank: 3 }, silver: { rank: 2 }, bronze: { rank: 1 } });
    const names = ["", "auto", "gold", "silver", "bronze", "claude-big", "gpt-mid", "gpt-small", "shared-model", "fast", "other"];
    fc.assert(
      fc.property(fc.constantFrom("ent", "free"), fc.constantFrom(...names), (tenant, model) => {
        let tier: string;
        try {
          tier = ask(tenant, model).tier;
        } catch {
          return;
        }
        const max = tenant === "ent" ? "gold" : "silver";
        expect(ladder.above(tier, max)).toBe(false);
        expect(policy.models(tenant).some((m) => m.id === (model || "auto"))).toBe(true);
      }),
    );
  });
});

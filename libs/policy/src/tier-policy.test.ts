import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, type Config } from "@tiermesh/config";
import { CompletionInputSchema, ERROR_REASON_HEADER, PROMPT_TOO_LARGE, type CompletionInput } from "@tiermesh/proto";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { policyDocument } from "./policy-document.js";
import { compileTierPolicy, type Classify } from "./tier-policy.js";

const tiersYaml = (names: [string, number][]) =>
  names
    .map(
      ([name, rank], i) => `
  ${name}:
    rank: ${rank}
    executor: { listen: 127.0.0.1:${7410 + i} }
    models: [{ provider: sim, model: m-${name}, price: { input_per_mtok: 1, output_per_mtok: 1 } }]`,
    )
    .join("");

const yaml = `
router: { listen: 127.0.0.1:7400 }
health_monitor: { listen: 127.0.0.1:7402 }
providers:
  sim: { kind: openai, base_url: http://127.0.0.1:7490/v1 }
tiers:${tiersYaml([
  ["gold", 3],
  ["silver", 2],
  ["bronze", 1],
])}
classifier:
  listen: 127.0.0.1:7401
  rules:
    - { id: long-output, when: { max_tokens_over: 1000 }, tier: bronze, reason: long outputs go to bronze }
    - { id: big-prompt-pro, when: { plans: [pro], prompt_tokens_over: 50 }, tier: gold }
    - { id: fast-model, when: { models: [fast] }, tier: silver }
    - { id: batch-to-bronze, when: { urgencies: [batch] }, tier: bronze }
    - { id: free-interactive, when: { plans: [free], urgencies: [interactive] }, tier: silver }
    - { id: tools-to-gold, when: { tenants: [pro], tools: true }, tier: gold }
    - { id: json-to-silver, when: { json_mode: true }, tier: silver }
    - { id: tight-deadline, when: { deadline_under_ms: 2000 }, tier: gold }
plans:
  enterprise: { default_tier: gold, max_tier: gold, min_tier: silver }
  pro: { default_tier: silver, max_tier: gold }
  free:
    default_tier: bronze
    max_tier: silver
    urgencies: [interactive, batch]
    default_urgency: batch
    limits: { max_prompt_tokens: 100 }
  strict: { default_tier: bronze, max_tier: silver, hint_above_max: reject }
tenants:
  ent: { plan: enterprise }
  pro: { plan: pro }
  free: { plan: free }
  strict: { plan: strict }
`;

const classify = compileTierPolicy(policyDocument(parseConfig(yaml, "test.yaml", {})));

/**
 * A request with one user message of `words` times " hello": one o200k token each, so the
 * prompt is `words` + 4 tokens (per-message overhead).
 */
function input(
  fields: {
    words?: number;
    urgency?: string;
    tierHint?: string;
    maxTokens?: number;
    model?: string;
    jsonMode?: boolean;
    tools?: { name: string }[];
  } = {},
): CompletionInput {
  const { words = 2, ...rest } = fields;
  return create(CompletionInputSchema, { messages: [{ role: "user", content: " hello".repeat(words) }], ...rest });
}

function rejection(run: () => unknown): ConnectError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return error as ConnectError;
  }
  throw new Error("expected a ConnectError");
}

describe("compileTierPolicy: plan defaults and rules", () => {
  it("uses the plan's default tier when no rule matches", () => {
    const { promptTokensOver, ...c } = classify("pro", input({ words: 10 }));
    expect(promptTokensOver(13)).toBe(true);
    expect(promptTokensOver(14)).toBe(false);
    expect({ ...c, promptTokens: c.promptTokens }).toEqual({
      tier: "silver",
      ruleIds: [],
      reasons: ["plan pro default tier silver"],
      minTier: "bronze",
      maxTier: "gold",
      tenant: "pro",
      plan: "pro",
      urgency: "standard",
      promptTokens: 14,
    });
  });

  it("counts tokens only when a decision needs it: short prompts never load the tokenizer", async () => {
    // A fresh module graph, so the tokenizer's state is this test's own.
    vi.resetModules();
    const fresh = await import("./index.js");
    const engine = fresh.compileTierPolicy(policyDocument(parseConfig(yaml, "test.yaml", {})));
    expect(engine("ent", input({ words: 10 })).tier).toBe("gold");
    expect(fresh.o200kLoaded()).toBe(false);
    // A rule about prompt size that the byte length cannot settle needs the count.
    engine("pro", input({ words: 10 }));
    expect(fresh.o200kLoaded()).toBe(true);
    vi.resetModules();
    const again = await import("./index.js");
    const d = again.compileTierPolicy(policyDocument(parseConfig(yaml, "test.yaml", {})))("ent", input({ words: 10 }));
    expect(again.o200kLoaded()).toBe(false);
    expect(d.promptTokens).toBe(14);
    expect(again.o200kLoaded()).toBe(true);
  });

  it("answers whether a prompt is over any size, also past the counting limit", () => {
    // free's limit (100) is the largest number its decisions compare against.
    const c = classify("ent", input({ words: 90 }));
    expect(c.promptTokensOver(50)).toBe(true);
    expect(c.promptTokensOver(c.promptTokens)).toBe(false);
    expect(c.promptTokensOver(c.promptTokens - 1)).toBe(true);
    expect(c.promptTokensOver(100_000)).toBe(false);
  });

  it("applies the plan's default urgency", () => {
    const c = classify("free", input());
    expect(c.urgency).toBe("batch");
    expect(c.tier).toBe("bronze");
    expect(c.ruleIds).toEqual(["batch-to-bronze"]);
  });

  it("first matching rule wins", () => {
    // Matches long-output, big-prompt-pro and fast-model; long-output is listed first.
    const c = classify("pro", input({ words: 100, maxTokens: 2000, model: "fast" }));
    expect(c.tier).toBe("bronze");
    expect(c.ruleIds).toEqual(["long-output"]);
    expect(c.reasons).toEqual(["long outputs go to bronze"]);
  });

  it("prompt_tokens_over is strict and combined with plans", () => {
    // 46 words -> 46 + 4 = 50 tokens; 47 words -> 51 tokens.
    expect(classify("pro", input({ words: 46 })).tier).toBe("silver");
    const over = classify("pro", input({ words: 47 }));
    expect(over).toMatchObject({
      tier: "gold",
      ruleIds: ["big-prompt-pro"],
      promptTokens: 51,
      reasons: ["rule big-prompt-pro assigned gold"],
    });
    // Same prompt, other plan: the plans condition fails.
    expect(classify("strict", input({ words: 47 })).ruleIds).toEqual([]);
  });

  it("max_tokens_over is strict", () => {
    expect(classify("pro", input({ maxTokens: 1000 })).ruleIds).toEqual([]);
    expect(classify("pro", input({ maxTokens: 1001 })).ruleIds).toEqual(["long-output"]);
  });

  it("models matches the exact model string", () => {
    expect(classify("pro", input({ model: "fast" }))).toMatchObject({ tier: "silver", ruleIds: ["fast-model"] });
    expect(classify("pro", input({ model: "auto" })).ruleIds).toEqual([]);
  });

  it("urgencies and plans must both hold", () => {
    expect(classify("free", input({ urgency: "interactive" }))).toMatchObject({ tier: "silver", ruleIds: ["free-interactive"] });
    expect(classify("pro", input({ urgency: "interactive" })).ruleIds).toEqual([]);
  });

  it("tenants, tools, json_mode and deadline_under_ms conditions", () => {
    const tools = [{ name: "lookup" }];
    expect(classify("pro", input({ tools })).ruleIds).toEqual(["tools-to-gold"]);
    expect(classify("strict", input({ tools })).ruleIds).toEqual([]); // other tenant
    expect(classify("pro", input({ jsonMode: true }))).toMatchObject({ tier: "silver", ruleIds: ["json-to-silver"] });
    expect(classify("pro", input(), 1_999)).toMatchObject({ tier: "gold", ruleIds: ["tight-deadline"] });
    expect(classify("pro", input(), 2_000).ruleIds).toEqual([]);
    // 0 means "no deadline", not "already late".
    expect(classify("pro", input(), 0).ruleIds).toEqual([]);
    expect(classify("pro", input()).ruleIds).toEqual([]);
  });

  it("clamps a rule's tier into the plan's range, with a reason", () => {
    const c = classify("ent", input({ urgency: "batch" }));
    expect(c.tier).toBe("silver");
    expect(c.ruleIds).toEqual(["batch-to-bronze"]);
    expect(c.reasons).toEqual(["rule batch-to-bronze assigned bronze", "clamped bronze to silver: plan enterprise allows silver..gold"]);
  });
});

describe("compileTierPolicy: tier hints", () => {
  it("a hint inside the plan's range overrides the rules", () => {
    expect(classify("pro", input({ urgency: "batch", tierHint: "gold" }))).toMatchObject({
      tier: "gold",
      ruleIds: ["batch-to-bronze"],
      reasons: ["rule batch-to-bronze assigned bronze", "tier hint gold"],
    });
    expect(classify("pro", input({ tierHint: "bronze" })).tier).toBe("bronze");
  });

  it("a hint above max_tier is clamped when the plan says clamp", () => {
    const c = classify("free", input({ tierHint: "gold" }));
    expect(c.tier).toBe("silver");
    expect(c.maxTier).toBe("silver");
    expect(c.reasons).toContain("clamped gold to silver: plan free allows bronze..silver");
  });

  it("a hint below min_tier is raised to the floor", () => {
    const c = classify("ent", input({ tierHint: "bronze" }));
    expect(c.tier).toBe("silver");
    expect(c.reasons.at(-1)).toBe("clamped bronze to silver: plan enterprise allows silver..gold");
  });

  it("a hint above max_tier is refused when the plan says reject", () => {
    const e = rejection(() => classify("strict", input({ tierHint: "gold" })));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(e.rawMessage).toBe('input.tier_hint: tier "gold" is above plan "strict" entitlement silver');
    // At max_tier itself it is fine.
    expect(classify("strict", input({ tierHint: "silver" })).tier).toBe("silver");
  });

  it("an unknown hint is an invalid argument", () => {
    const e = rejection(() => classify("pro", input({ tierHint: "platinum" })));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toBe('input.tier_hint: unknown tier "platinum" (tiers: gold, silver, bronze)');
  });
});

describe("compileTierPolicy: rejections", () => {
  it("unknown tenant is unauthenticated", () => {
    const e = rejection(() => classify("mallory", input()));
    expect(e.code).toBe(Code.Unauthenticated);
    expect(e.rawMessage).toBe('unknown tenant "mallory"');
  });

  // Regression (fixed): tier-policy.ts looks tenants up with `config.tenants[tenantName]` on a plain object, so a
  // tenant name that is an Object.prototype member ("constructor", "__proto__", "toString"; the
  // ClassifyRequest.tenant field is caller-supplied) is "found" and the policy crashes with a
  // TypeError (INTERNAL) instead of UNAUTHENTICATED.
  it.each(["constructor", "__proto__", "toString"])("tenant %s is unauthenticated, not a crash", (name) => {
    expect(rejection(() => classify(name, input())).code).toBe(Code.Unauthenticated);
  });

  it("unknown urgency is an invalid argument naming input.urgency", () => {
    const e = rejection(() => classify("pro", input({ urgency: "urgent" })));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toMatch(/^input\.urgency: unknown urgency "urgent"/);
  });

  it("urgency the plan does not allow is permission denied", () => {
    const e = rejection(() => classify("free", input({ urgency: "standard" })));
    expect(e.code).toBe(Code.PermissionDenied);
    expect(e.rawMessage).toBe('input.urgency: plan "free" does not allow urgency "standard"');
  });

  it("no messages is an invalid argument naming input.messages", () => {
    for (const missing of [create(CompletionInputSchema, {}), undefined]) {
      const e = rejection(() => classify("pro", missing));
      expect(e.code).toBe(Code.InvalidArgument);
      expect(e.rawMessage).toBe("input.messages: at least one message is required");
    }
  });

  it("a message without a role is an invalid argument", () => {
    const bad = create(CompletionInputSchema, {
      messages: [
        { role: "user", content: "a" },
        { role: "", content: "b" },
      ],
    });
    const e = rejection(() => classify("pro", bad));
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.rawMessage).toBe("input.messages[1].role: required");
  });

  it("a prompt over the plan's max_prompt_tokens is resource exhausted", () => {
    // 96 words -> 96 + 4 = 100 tokens: exactly at the limit is allowed.
    expect(classify("free", input({ words: 96 })).promptTokens).toBe(100);
    const e = rejection(() => classify("free", input({ words: 97 })));
    expect(e.code).toBe(Code.ResourceExhausted);
    // A long message is counted only up to the limit, so the size is not exact.
    expect(e.rawMessage).toBe('input.messages: prompt of more than 100 tokens exceeds plan "free" limit of 100');
    expect(e.metadata.get(ERROR_REASON_HEADER)).toBe(PROMPT_TOO_LARGE);
    // Short messages add up exactly, overhead included: 3 x (30 + 4) = 102.
    const three = create(CompletionInputSchema, {
      messages: Array.from({ length: 3 }, () => ({ role: "user", content: " hello".repeat(30) })),
    });
    const e3 = rejection(() => classify("free", three));
    expect(e3.code).toBe(Code.ResourceExhausted);
    expect(e3.rawMessage).toBe('input.messages: prompt of 102 tokens exceeds plan "free" limit of 100');
  });
});

// ---------------------------------------------------------------------------------------------
// Property: whatever the config and the request, the tier stays inside the plan's [min, max].

const TIER_NAMES = ["t0", "t1", "t2", "t3", "t4"];
const URGENCIES = ["interactive", "standard", "batch"] as const;

const configArb = fc
  .integer({ min: 1, max: 5 })
  .chain((n) =>
    fc.record({
      ranks: fc.uniqueArray(fc.integer({ min: -20, max: 20 }), { minLength: n, maxLength: n }),
      plans: fc.array(
        fc.record({
          // Indices into the tiers sorted by rank (0 = lowest); fixed up below to satisfy validation.
          max: fc.nat({ max: n - 1 }),
          def: fc.nat({ max: n - 1 }),
          min: fc.option(fc.nat({ max: n - 1 }), { nil: undefined }),
          urgencies: fc.oneof(
            { arbitrary: fc.constant([...URGENCIES]), weight: 2 },
            { arbitrary: fc.subarray([...URGENCIES], { minLength: 1 }), weight: 1 },
          ),
          defaultUrgency: fc.nat({ max: 2 }),
          hintAboveMax: fc.constantFrom("clamp", "reject"),
          maxPromptTokens: fc.oneof(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 400, max: 5000 })),
        }),
        { minLength: 1, maxLength: 3 },
      ),
      rules: fc.array(
        fc.record({
          tier: fc.nat({ max: n - 1 }),
          plans: fc.option(fc.subarray([0, 1, 2], { minLength: 1 }), { nil: undefined }),
          urgencies: fc.option(fc.subarray([...URGENCIES], { minLength: 1 }), { nil: undefined }),
          promptTokensOver: fc.option(fc.nat({ max: 400 }), { nil: undefined }),
          maxTokensOver: fc.option(fc.nat({ max: 3000 }), { nil: undefined }),
          models: fc.option(fc.subarray(["fast", "smart"], { minLength: 1 }), { nil: undefined }),
          tenants: fc.option(fc.subarray([0, 1, 2], { minLength: 1 }), { nil: undefined }),
          tools: fc.option(fc.boolean(), { nil: undefined }),
          jsonMode: fc.option(fc.boolean(), { nil: undefined }),
          deadlineUnderMs: fc.option(fc.integer({ min: 1, max: 5_000 }), { nil: undefined }),
        }),
        { maxLength: 5 },
      ),
    }),
  )
  .map(({ ranks, plans, rules }) => {
    const names = TIER_NAMES.slice(0, ranks.length);
    const byRank = [...names].sort((a, b) => ranks[names.indexOf(a)]! - ranks[names.indexOf(b)]!);
    const planObjs = Object.fromEntries(
      plans.map((p, i) => {
        const at = (idx: number) => byRank[Math.min(idx, p.max)]!;
        return [
          `p${i}`,
          {
            max_tier: byRank[p.max],
            default_tier: at(p.def),
            ...(p.min === undefined ? {} : { min_tier: at(p.min) }),
            urgencies: p.urgencies,
            default_urgency: p.urgencies[p.defaultUrgency % p.urgencies.length],
            hint_above_max: p.hintAboveMax,
            limits: { max_prompt_tokens: p.maxPromptTokens },
          },
        ];
      }),
    );
    const ruleObjs = rules.map((r, i) => {
      const when: Record<string, unknown> = {};
      const plansIn = r.plans?.filter((j) => j < plans.length).map((j) => `p${j}`);
      if (plansIn && plansIn.length > 0) when["plans"] = plansIn;
      if (r.urgencies) when["urgencies"] = r.urgencies;
      if (r.promptTokensOver !== undefined) when["prompt_tokens_over"] = r.promptTokensOver;
      if (r.maxTokensOver !== undefined) when["max_tokens_over"] = r.maxTokensOver;
      if (r.models) when["models"] = r.models;
      const tenantsIn = r.tenants?.filter((j) => j < plans.length).map((j) => `tenant${j}`);
      if (tenantsIn && tenantsIn.length > 0) when["tenants"] = tenantsIn;
      if (r.tools !== undefined) when["tools"] = r.tools;
      if (r.jsonMode !== undefined) when["json_mode"] = r.jsonMode;
      if (r.deadlineUnderMs !== undefined) when["deadline_under_ms"] = r.deadlineUnderMs;
      return { id: `r${i}`, when, tier: names[r.tier] };
    });
    const raw = {
      router: { listen: "127.0.0.1:7400" },
      classifier: { listen: "127.0.0.1:7401", rules: ruleObjs },
      health_monitor: { listen: "127.0.0.1:7402" },
      providers: { sim: { kind: "openai", base_url: "http://127.0.0.1:7490/v1" } },
      tiers: Object.fromEntries(
        names.map((name, i) => [
          name,
          {
            rank: ranks[i],
            executor: { listen: `127.0.0.1:${7410 + i}` },
            models: [{ provider: "sim", model: name, price: { input_per_mtok: 1, output_per_mtok: 1 } }],
          },
        ]),
      ),
      plans: planObjs,
      tenants: Object.fromEntries(plans.map((_, i) => [`tenant${i}`, { plan: `p${i}` }])),
    };
    return parseConfig(JSON.stringify(raw), "generated.yaml", {});
  });

const requestArb = fc.record({
  tenant: fc.oneof(
    { arbitrary: fc.constant("tenant0"), weight: 10 },
    { arbitrary: fc.constantFrom("tenant1", "tenant2"), weight: 2 },
    { arbitrary: fc.constant("nobody"), weight: 1 },
  ),
  tierHint: fc.oneof(
    { arbitrary: fc.constant(""), weight: 3 },
    // "#i" stands for the i-th configured tier (resolved against the generated config).
    { arbitrary: fc.nat({ max: 4 }).map((i) => `#${i}`), weight: 6 },
    { arbitrary: fc.constantFrom("platinum", "T0", " t1"), weight: 1 },
  ),
  urgency: fc.oneof(
    { arbitrary: fc.constant(""), weight: 6 },
    { arbitrary: fc.constantFrom(...URGENCIES), weight: 6 },
    { arbitrary: fc.constantFrom("urgent", "BATCH"), weight: 1 },
  ),
  messages: fc.oneof(
    { arbitrary: fc.array(fc.string({ maxLength: 400 }), { minLength: 1, maxLength: 3 }), weight: 9 },
    { arbitrary: fc.constant<string[]>([]), weight: 1 },
  ),
  maxTokens: fc.nat({ max: 4000 }),
  // Rule aliases, names that are none (NOT_FOUND), and tier names ("#n": the n-th tier), which must never lift the plan.
  model: fc.oneof(
    { arbitrary: fc.constantFrom("", "auto"), weight: 6 },
    { arbitrary: fc.constantFrom("fast", "smart", "other", "#0", "#1", "#2"), weight: 3 },
  ),
  jsonMode: fc.boolean(),
  tools: fc.boolean(),
  deadlineMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 10_000 })),
});

const ALLOWED_CODES = new Set([Code.Unauthenticated, Code.InvalidArgument, Code.PermissionDenied, Code.ResourceExhausted, Code.NotFound]);

describe("compileTierPolicy property", () => {
  it("never serves a tier above the plan's max_tier or below its floor", () => {
    let served = 0;
    let hinted = 0;
    fc.assert(
      fc.property(configArb, requestArb, (config: Config, req) => {
        const policy: Classify = compileTierPolicy(policyDocument(config));
        const rank = (t: string) => config.tiers[t]!.rank;
        const lowest = Object.keys(config.tiers).reduce((a, b) => (rank(a) <= rank(b) ? a : b));
        const names = Object.keys(config.tiers);
        const hint = req.tierHint.startsWith("#") ? names[Number(req.tierHint.slice(1)) % names.length]! : req.tierHint;
        const msg = create(CompletionInputSchema, {
          messages: req.messages.map((content) => ({ role: "user", content })),
          tierHint: hint,
          urgency: req.urgency,
          maxTokens: req.maxTokens,
          model: req.model.startsWith("#") ? names[Number(req.model.slice(1)) % names.length]! : req.model,
          jsonMode: req.jsonMode,
          tools: req.tools ? [{ name: "f" }] : [],
        });
        const tenant = config.tenants[req.tenant];
        const plan = tenant === undefined ? undefined : config.plans[tenant.plan];
        let result;
        try {
          result = policy(req.tenant, msg, req.deadlineMs);
        } catch (error) {
          expect(error).toBeInstanceOf(ConnectError);
          expect(ALLOWED_CODES.has((error as ConnectError).code)).toBe(true);
          return;
        }
        served++;
        if (hint !== "") hinted++;
        expect(plan).toBeDefined();
        const max = plan!.max_tier;
        const min = plan!.min_tier ?? lowest;
        expect(result.maxTier).toBe(max);
        expect(result.minTier).toBe(min);
        expect(rank(result.tier)).toBeLessThanOrEqual(rank(max));
        expect(rank(result.tier)).toBeGreaterThanOrEqual(rank(min));
        if (hint !== "") {
          // A served hint is a known tier; above max it was only served because the plan clamps.
          expect(names).toContain(hint);
          if (rank(hint) > rank(max)) expect(plan!.hint_above_max).toBe("clamp");
          else if (rank(hint) >= rank(min)) expect(result.tier).toBe(hint);
        }
      }),
      { numRuns: 200 },
    );
    // Not vacuous: plenty of requests are actually served, some of them with a hint.
    expect(served).toBeGreaterThan(60);
    expect(hinted).toBeGreaterThan(30);
  });
});

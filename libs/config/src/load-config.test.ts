import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { parseConfig } from "./load-config.js";

/** A small valid config as a plain object; JSON is valid YAML, so tests mutate it and stringify. */
function baseConfig(): Record<string, any> {
  const model = (name: string) => [{ provider: "sim", model: name, price: { input_per_mtok: 1, output_per_mtok: 2 } }];
  return {
    router: { listen: "127.0.0.1:7400", anonymous_tenant: "demo" },
    classifier: {
      listen: "127.0.0.1:7401",
      rules: [{ id: "batch-to-bronze", when: { urgencies: ["batch"] }, tier: "bronze" }],
    },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: { sim: { kind: "openai", base_url: "http://127.0.0.1:7490/v1" } },
    tiers: {
      gold: { rank: 3, fallback: "silver", executor: { listen: "127.0.0.1:7410" }, models: model("g") },
      silver: { rank: 2, fallback: "bronze", executor: { listen: "127.0.0.1:7411" }, models: model("s") },
      bronze: { rank: 1, executor: { listen: "127.0.0.1:7412" }, models: model("b") },
    },
    plans: {
      enterprise: { default_tier: "gold", max_tier: "gold", min_tier: "silver" },
      free: { default_tier: "bronze", max_tier: "silver" },
    },
    tenants: {
      demo: { plan: "enterprise" },
      acme: { plan: "free", api_key_sha256: ["a".repeat(64)] },
    },
  };
}

const parse = (cfg: unknown, env: Record<string, string> = {}) => parseConfig(JSON.stringify(cfg), "test.yaml", env);

/** The ConfigError thrown for `cfg`, failing the test when none is thrown. */
function configError(cfg: unknown, env: Record<string, string> = {}): ConfigError {
  try {
    parse(cfg, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("parseConfig defaults", () => {
  it("fills tier, plan, service and NATS defaults", () => {
    const c = parse(baseConfig());
    const bronze = c.tiers["bronze"]!;
    expect(bronze.retries).toMatchObject({ max_attempts: 2, backoff_ms: 25 });
    expect(bronze.timeouts).toMatchObject({ attempt_ms: 30_000, ttft_ms: 10_000 });
    expect(bronze.prompt).toMatchObject({ default_max_tokens: 256, max_tokens_cap: 4_096 });
    expect(bronze.slo).toMatchObject({
      window_ms: 10_000,
      min_samples: 10,
      error_rate_degraded: 0.05,
      error_rate_down: 0.5,
      ttft_p95_ms: 2_000,
      consecutive_failures_down: 5,
      recovery_successes: 3,
      min_dwell_ms: 3_000,
    });
    expect(bronze.models[0]!.weight).toBe(1);
    expect(c.plans["free"]).toMatchObject({
      default_urgency: "standard",
      urgencies: ["interactive", "standard", "batch"],
      hint_above_max: "clamp",
      limits: { max_prompt_tokens: 128_000 },
    });
    expect(c.tenants["demo"]!.api_key_sha256).toEqual([]);
    expect(c.router.default_timeout_ms).toBe(60_000);
    expect(c.router.status_ttl_ms).toBe(15_000);
    expect(c.health_monitor.probe).toMatchObject({ interval_ms: 1_000, timeout_ms: 5_000, prompt: "Reply with OK.", max_tokens: 1 });
    expect(c.nats).toMatchObject({ url: "nats://127.0.0.1:4222", subject_prefix: "tiermesh", kv_bucket: "tiermesh_tier_status" });
    expect(c.log.level).toBe("info");
    expect(c.providers["sim"]!.connections).toBe(64);
  });

  it("keeps explicit values over defaults, per field", () => {
    const cfg = baseConfig();
    cfg.tiers.gold.retries = { max_attempts: 4 };
    cfg.tiers.gold.slo = { ttft_p95_ms: 800 };
    const gold = parse(cfg).tiers["gold"]!;
    expect(gold.retries).toMatchObject({ max_attempts: 4, backoff_ms: 25 });
    expect(gold.slo.ttft_p95_ms).toBe(800);
    expect(gold.slo.window_ms).toBe(10_000);
  });

  it("fills the stall section: on, 3 × p99, at least 250 ms, max_ms left to timeouts.ttft_ms, a quorum of 3 at 1 × p99", () => {
    const c = parse(baseConfig());
    const interToken = { enabled: true, multiple: 10, min_ms: 1_000, max_ms: 10_000 };
    expect(c.tiers["gold"]!.stall).toEqual({
      enabled: true,
      ttft_multiple: 3,
      min_ms: 250,
      quorum: 3,
      quorum_ttft_multiple: 1,
      hold_ms: 30_000,
      inter_token: interToken,
    });
    const cfg = baseConfig();
    cfg.tiers.gold.stall = { ttft_multiple: 4, max_ms: 600, inter_token: { min_ms: 300 } };
    expect(parse(cfg).tiers["gold"]!.stall).toEqual({
      enabled: true,
      ttft_multiple: 4,
      min_ms: 250,
      max_ms: 600,
      quorum: 3,
      quorum_ttft_multiple: 1,
      hold_ms: 30_000,
      inter_token: { ...interToken, min_ms: 300 },
    });
  });

  it("continues interrupted answers by default; providers continue by kind unless told", () => {
    const cfg = baseConfig();
    cfg.providers.claude = { kind: "anthropic", base_url: "https://api.anthropic.com" };
    cfg.providers.vllm = { kind: "openai", base_url: "http://127.0.0.1:8000/v1", continuation: "continue_final_message" };
    cfg.tiers.silver.continuation = { enabled: false };
    const c = parse(cfg);
    expect(c.tiers["gold"]!.continuation).toEqual({ enabled: true });
    expect(c.tiers["silver"]!.continuation).toEqual({ enabled: false });
    expect(c.providers["sim"]!.continuation).toBe("none");
    expect(c.providers["claude"]!.continuation).toBe("prefix");
    expect(c.providers["vllm"]!.continuation).toBe("continue_final_message");
  });

  it("fills the cool-down section (1 s after a bare 429, at most 60 s) and refuses a default above the max", () => {
    expect(parse(baseConfig()).tiers["gold"]!.cooldown).toEqual({ default_ms: 1_000, max_ms: 60_000 });
    const cfg = baseConfig();
    cfg.tiers.gold.cooldown = { default_ms: 5_000, max_ms: 2_000 };
    expect(() => parse(cfg)).toThrow(/tiers\.gold\.cooldown\.default_ms: default_ms must not exceed max_ms/);
  });

  it("looks at open batches every 2 s by default, and names health_monitor.batch_sweep_ms when it is bad", () => {
    expect(parse(baseConfig()).health_monitor.batch_sweep_ms).toBe(2_000);
    const cfg = baseConfig();
    cfg.health_monitor = { ...cfg.health_monitor, batch_sweep_ms: 10 };
    expect(() => parse(cfg)).toThrow(/health_monitor\.batch_sweep_ms/);
  });

  it("resumes batches left validating after 30 s, looking every 5 s, by default; names router.batch_resume.orphan_ms when it is bad", () => {
    expect(parse(baseConfig()).router.batch_resume).toEqual({ sweep_ms: 5_000, orphan_ms: 30_000 });
    const cfg = baseConfig();
    cfg.router = { ...cfg.router, batch_resume: { orphan_ms: 500 } };
    expect(() => parse(cfg)).toThrow(/router\.batch_resume\.orphan_ms/);
  });

  it("accepts the shipped example config", async () => {
    const { readFileSync } = await import("node:fs");
    const text = readFileSync(new URL("../../../deploy/tiermesh.example.yaml", import.meta.url), "utf8");
    const c = parseConfig(text, "tiermesh.example.yaml", {});
    expect(Object.keys(c.tiers)).toEqual(["gold", "silver", "bronze"]);
    expect(c.tiers["silver"]!.retries.max_attempts).toBe(2);
  });
});

describe("parseConfig errors name the bad field", () => {
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    [
      "unknown fallback tier",
      (c) => (c.tiers.silver.fallback = "tin"),
      'tiers.silver.fallback: unknown tier "tin" (tiers: gold, silver, bronze)',
    ],
    [
      "fallback ranking higher",
      (c) => (c.tiers.bronze.fallback = "gold"),
      'tiers.bronze.fallback: fallback "gold" must rank lower than "bronze"',
    ],
    [
      "fallback of equal rank (itself)",
      (c) => (c.tiers.bronze.fallback = "bronze"),
      'tiers.bronze.fallback: fallback "bronze" must rank lower',
    ],
    ["duplicate ranks", (c) => (c.tiers.bronze.rank = 2), 'tiers.bronze.rank: rank 2 is also used by tier "silver"'],
    ["unknown provider", (c) => (c.tiers.gold.models[0].provider = "acme"), 'tiers.gold.models.0.provider: unknown provider "acme"'],
    ["plan with unknown tier", (c) => (c.plans.free.max_tier = "platinum"), 'plans.free.max_tier: unknown tier "platinum"'],
    ["plan default above max", (c) => (c.plans.free.default_tier = "gold"), "plans.free.default_tier: default_tier ranks above max_tier"],
    ["plan min above max", (c) => (c.plans.free.min_tier = "gold"), "plans.free.min_tier: min_tier ranks above max_tier"],
    ["tenant with unknown plan", (c) => (c.tenants.acme.plan = "gratis"), 'tenants.acme.plan: unknown plan "gratis"'],
    ["anonymous tenant unknown", (c) => (c.router.anonymous_tenant = "ghost"), 'router.anonymous_tenant: unknown tenant "ghost"'],
    ["rule with unknown tier", (c) => (c.classifier.rules[0].tier = "tin"), 'classifier.rules.0.tier: unknown tier "tin"'],
    [
      "rule with unknown plan",
      (c) => (c.classifier.rules[0].when.plans = ["free", "gratis"]),
      'classifier.rules.0.when.plans.1: unknown plan "gratis"',
    ],
    [
      "rule with unknown tenant",
      (c) => (c.classifier.rules[0].when.tenants = ["ghost"]),
      'classifier.rules.0.when.tenants.0: unknown tenant "ghost"',
    ],
    [
      "duplicate rule ids",
      (c) => c.classifier.rules.push({ id: "batch-to-bronze", tier: "silver" }),
      'classifier.rules.1.id: duplicate rule id "batch-to-bronze"',
    ],
    [
      "duplicate key hash across tenants",
      (c) => (c.tenants.demo.api_key_sha256 = ["b".repeat(64), "a".repeat(64)]),
      'tenants.acme.api_key_sha256.0: key hash also belongs to tenant "demo"',
    ],
    [
      "key hash not hex",
      (c) => (c.tenants.acme.api_key_sha256 = ["secret"]),
      "tenants.acme.api_key_sha256.0: expected a SHA-256 hex digest",
    ],
    ["unknown key in a tier", (c) => (c.tiers.gold.retries = { max_atempts: 3 }), 'tiers.gold.retries: Unrecognized key: "max_atempts"'],
    ["unknown top-level key", (c) => (c.tierz = {}), 'unrecognized key: "tierz"'],
    // zod reports record keys as "Invalid key in record"; the path still names the key.
    ["bad identifier", (c) => (c.tiers.Gold = { ...c.tiers.gold, rank: 9 }), "tiers.Gold: invalid key in record"],
    ["no tiers", (c) => (c.tiers = {}), "tiers: at least one tier is required"],
    ["retries out of range", (c) => (c.tiers.gold.retries = { max_attempts: 11 }), "tiers.gold.retries.max_attempts:"],
    [
      "stall min_ms above max_ms",
      (c) => (c.tiers.gold.stall = { min_ms: 500, max_ms: 400 }),
      "tiers.gold.stall.min_ms: min_ms must not exceed max_ms",
    ],
    ["stall ttft_multiple not positive", (c) => (c.tiers.gold.stall = { ttft_multiple: 0 }), "tiers.gold.stall.ttft_multiple:"],
    [
      "inter-token stall min_ms above max_ms",
      (c) => (c.tiers.gold.stall = { inter_token: { min_ms: 5_000, max_ms: 400 } }),
      "tiers.gold.stall.inter_token.min_ms: min_ms must not exceed max_ms",
    ],
    ["unknown continuation mode", (c) => (c.providers.sim.continuation = "sometimes"), "providers.sim.continuation:"],
    [
      "anthropic with an openai-only continuation mode",
      (c) => (c.providers.claude = { kind: "anthropic", base_url: "https://api.anthropic.com", continuation: "prefix_flag" }),
      'providers.claude.continuation: kind "anthropic" continues with "prefix" or not at all',
    ],
    [
      "unknown key in continuation",
      (c) => (c.tiers.gold.continuation = { enable: false }),
      'tiers.gold.continuation: Unrecognized key: "enable"',
    ],
  ];

  it.each(cases)("%s", (_name, mutate, expected) => {
    const cfg = baseConfig();
    mutate(cfg);
    const error = configError(cfg);
    expect(error.file).toBe("test.yaml");
    expect(error.message.startsWith("config error in test.yaml: ")).toBe(true);
    expect(error.problems.join("\n").toLowerCase()).toContain(expected.toLowerCase());
  });

  it("reports every problem, not only the first", () => {
    const cfg = baseConfig();
    cfg.tiers.silver.fallback = "tin";
    cfg.tenants.acme.plan = "gratis";
    expect(configError(cfg).problems).toEqual([
      'tiers.silver.fallback: unknown tier "tin" (tiers: gold, silver, bronze)',
      'tenants.acme.plan: unknown plan "gratis"',
    ]);
  });

  it("rejects invalid YAML as a one-line ConfigError", () => {
    let error: unknown;
    try {
      parseConfig("tiers: [gold, silver\nplans: {}\n", "broken.yaml", {});
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toMatch(/^config error in broken\.yaml: invalid YAML/);
    expect(message).not.toContain("\n");
  });

  // Regression (fixed): load-config.ts parses with `prettyErrors: false`, so YAMLParseError.linePos is never set
  // and the intended " at line N" is never part of the message.
  it("says on which line the YAML is broken", () => {
    expect(() => parseConfig("log:\n  level: info\nkey: 'unterminated\n", "broken.yaml", {})).toThrow(/invalid YAML at line \d+/);
  });
});

// Regression (fixed): references.ts checks names with `name in cfg.tiers` / `cfg.tiers[name]`, which also finds
// Object.prototype members. "constructor" is a valid identifier, so a typo'd or hostile name
// "constructor" passes validation and later crashes TierLadder.rank / the classifier.
describe("parseConfig rejects names that only exist on Object.prototype", () => {
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    ["plan max_tier", (c) => (c.plans.free.max_tier = "constructor"), 'plans.free.max_tier: unknown tier "constructor"'],
    ["tier fallback", (c) => (c.tiers.bronze.fallback = "constructor"), 'tiers.bronze.fallback: unknown tier "constructor"'],
    ["rule tier", (c) => (c.classifier.rules[0].tier = "constructor"), 'classifier.rules.0.tier: unknown tier "constructor"'],
    ["tenant plan", (c) => (c.tenants.acme.plan = "constructor"), 'tenants.acme.plan: unknown plan "constructor"'],
    ["anonymous tenant", (c) => (c.router.anonymous_tenant = "constructor"), 'router.anonymous_tenant: unknown tenant "constructor"'],
    [
      "rule tenant",
      (c) => (c.classifier.rules[0].when.tenants = ["constructor"]),
      'classifier.rules.0.when.tenants.0: unknown tenant "constructor"',
    ],
  ];
  it.each(cases)("%s", (_name, mutate, expected) => {
    const cfg = baseConfig();
    mutate(cfg);
    expect(configError(cfg).problems.join("\n")).toContain(expected);
  });
});

describe("parseConfig environment overrides", () => {
  it("TIERMESH_NATS_URL replaces nats.url and keeps the rest of the section", () => {
    const c = parse(baseConfig(), { TIERMESH_NATS_URL: "nats://10.0.0.5:4333" });
    expect(c.nats).toMatchObject({ url: "nats://10.0.0.5:4333", subject_prefix: "tiermesh", kv_bucket: "tiermesh_tier_status" });
  });

  it("TIERMESH_LOG_LEVEL replaces log.level", () => {
    const cfg = baseConfig();
    cfg.log = { level: "warn" };
    expect(parse(cfg, { TIERMESH_LOG_LEVEL: "debug" }).log.level).toBe("debug");
    expect(parse(cfg, {}).log.level).toBe("warn");
  });

  it("empty variables are ignored", () => {
    const c = parse(baseConfig(), { TIERMESH_NATS_URL: "", TIERMESH_LOG_LEVEL: "" });
    expect(c.nats.url).toBe("nats://127.0.0.1:4222");
    expect(c.log.level).toBe("info");
  });

  // Regression (fixed): applyEnv casts TIERMESH_LOG_LEVEL without validating it, so a typo slips past config
  // validation and only fails later (or silently) when the logger is built.
  it("rejects an invalid TIERMESH_LOG_LEVEL with a ConfigError", () => {
    expect(() => parse(baseConfig(), { TIERMESH_LOG_LEVEL: "loud" })).toThrow(ConfigError);
  });
});

// The mesh configuration each policy runs: one production-like base (deploy/tiermesh.example.yaml,
// with gold served by two deployments), then what each policy changes.
import { generateApiKey, hashApiKey } from "@tiermesh/config";
import { freePort } from "@tiermesh/process";
import { tenants } from "./trace.mjs";

/** Gold's primary deployment (the one that faults) and its standby; the model names the simulator serves. */
export const models = {
  goldPrimary: "sim-gold-large",
  goldSecondary: "sim-gold-large-b",
  silver: "sim-silver-medium",
  bronze: "sim-bronze-small",
};

/** Simulated latencies, as in deploy/tiermesh.example.yaml. */
export const profiles = {
  [models.goldPrimary]: { ttft_ms: { median: 120, p99: 400 }, inter_token_ms: { median: 6, p99: 15 }, output_tokens: { min: 8, max: 32 } },
  [models.goldSecondary]: {
    ttft_ms: { median: 120, p99: 400 },
    inter_token_ms: { median: 6, p99: 15 },
    output_tokens: { min: 8, max: 32 },
  },
  [models.silver]: { ttft_ms: { median: 200, p99: 700 }, inter_token_ms: { median: 10, p99: 25 }, output_tokens: { min: 8, max: 32 } },
  [models.bronze]: { ttft_ms: { median: 400, p99: 1500 }, inter_token_ms: { median: 15, p99: 40 }, output_tokens: { min: 8, max: 32 } },
};

export const policyNames = ["dynamic", "static", "all-premium", "all-cheapest"];

export const policyLabels = {
  dynamic: "tiermesh dynamic",
  static: "static fallback (5 s cooldown)",
  "all-premium": "all on premium (gold)",
  "all-cheapest": "all on cheapest (bronze)",
};

/** One API key per tenant, shared by every policy's config. */
export function tenantKeys() {
  return Object.fromEntries(tenants.map((t) => [t.name, generateApiKey()]));
}

/** The production-like base: the dynamic policy as tiermesh would be deployed. */
async function baseConfig(keys) {
  const hp = async () => `127.0.0.1:${await freePort()}`;
  const sim = await hp();
  return {
    log: { level: "warn" },
    router: { listen: await hp(), default_timeout_ms: 30_000, status_ttl_ms: 15_000 },
    classifier: {
      listen: await hp(),
      rules: [
        { id: "batch-to-bronze", when: { urgencies: ["batch"] }, tier: "bronze", reason: "batch work tolerates latency" },
        {
          id: "free-interactive-silver",
          when: { plans: ["free"], urgencies: ["interactive"] },
          tier: "silver",
          reason: "free plan interactive traffic is served by silver",
        },
      ],
    },
    health_monitor: { listen: await hp(), evaluate_interval_ms: 100, heartbeat_ms: 2_000, probe: { interval_ms: 1_000 } },
    providers: { sim: { kind: "openai", base_url: `http://${sim}/v1` } },
    tiers: {
      gold: {
        rank: 3,
        fallback: "silver",
        executor: { listen: await hp() },
        models: [
          { id: "gold-primary", provider: "sim", model: models.goldPrimary, weight: 4, price: { input_per_mtok: 5, output_per_mtok: 15 } },
          {
            id: "gold-secondary",
            provider: "sim",
            model: models.goldSecondary,
            weight: 1,
            price: { input_per_mtok: 5, output_per_mtok: 15 },
          },
        ],
        prompt: { system: "You are a precise assistant for enterprise customers.", default_max_tokens: 256 },
        timeouts: { attempt_ms: 10_000, ttft_ms: 2_000 },
        retries: { max_attempts: 2, backoff_ms: 20 },
        hedge: { enabled: true },
        slo: {
          window_ms: 10_000,
          error_rate_degraded: 0.02,
          error_rate_down: 0.5,
          ttft_p95_ms: 800,
          consecutive_failures_down: 3,
          recovery_successes: 3,
          min_dwell_ms: 3_000,
        },
      },
      silver: {
        rank: 2,
        fallback: "bronze",
        executor: { listen: await hp() },
        models: [{ id: "silver", provider: "sim", model: models.silver, price: { input_per_mtok: 1, output_per_mtok: 3 } }],
        timeouts: { attempt_ms: 20_000, ttft_ms: 4_000 },
        slo: { ttft_p95_ms: 1_500 },
      },
      bronze: {
        rank: 1,
        executor: { listen: await hp() },
        models: [{ id: "bronze", provider: "sim", model: models.bronze, price: { input_per_mtok: 0.1, output_per_mtok: 0.4 } }],
        timeouts: { attempt_ms: 60_000, ttft_ms: 15_000 },
        retries: { max_attempts: 3 },
        slo: { ttft_p95_ms: 5_000 },
      },
    },
    plans: {
      enterprise: { default_tier: "gold", max_tier: "gold", min_tier: "silver" },
      pro: { default_tier: "silver", max_tier: "gold" },
      free: { default_tier: "bronze", max_tier: "silver", urgencies: ["interactive", "batch"], default_urgency: "batch" },
    },
    tenants: Object.fromEntries(tenants.map((t) => [t.name, { plan: t.plan, api_key_sha256: [hashApiKey(keys[t.name])] }])),
    simulator: { listen: sim, models: structuredClone(profiles) },
  };
}

/**
 * The raw config of `policy` and how to launch it. `stallKnob` false leaves out
 * `tiers.<t>.stall` (for builds where stall detection has not landed yet).
 */
export async function policyConfig(policy, keys, { stallKnob = true } = {}) {
  const raw = await baseConfig(keys);
  let healthMonitor = true;
  switch (policy) {
    case "dynamic":
      break;
    case "static":
      // What common gateways do: no health signal, a tier is skipped for 5 s after a failure,
      // ordered fallback, no hedging, no stall detection, no promotion.
      healthMonitor = false;
      raw.router.passive_breaker = { failures: 1, cool_ms: 5_000 };
      raw.tiers.gold.hedge = { enabled: false };
      for (const t of Object.values(raw.tiers)) {
        if (stallKnob) t.stall = { enabled: false };
        t.routing = { ...t.routing, on_degraded: "stay" };
      }
      break;
    case "all-premium":
      raw.classifier.rules = [];
      for (const p of Object.values(raw.plans)) Object.assign(p, { default_tier: "gold", max_tier: "gold" });
      break;
    case "all-cheapest":
      raw.classifier.rules = [];
      for (const p of Object.values(raw.plans)) {
        p.default_tier = "bronze";
        delete p.min_tier;
      }
      break;
    default:
      throw new Error(`unknown policy ${policy} (policies: ${policyNames.join(", ")})`);
  }
  return { raw, healthMonitor };
}

/**
 * The tier a request is entitled to under the production rules (the dynamic policy's
 * classifier, read from its raw config): the first rule matching plan and urgency, else the
 * plan's default, clamped into the plan's range. Checked against the router's
 * `requestedTier` at run time.
 */
export function entitlement(raw) {
  const rank = (t) => raw.tiers[t].rank;
  const lowest = Object.keys(raw.tiers).sort((a, b) => rank(a) - rank(b))[0];
  return (plan, urgency) => {
    const p = raw.plans[plan];
    const rule = raw.classifier.rules.find(
      (r) => (!r.when.plans || r.when.plans.includes(plan)) && (!r.when.urgencies || r.when.urgencies.includes(urgency)),
    );
    let tier = rule?.tier ?? p.default_tier;
    const min = p.min_tier ?? lowest;
    if (rank(tier) < rank(min)) tier = min;
    if (rank(tier) > rank(p.max_tier)) tier = p.max_tier;
    return tier;
  };
}

/** Each tier's TTFT SLO (`slo.ttft_p95_ms`, ms) and rank, from a raw config. */
export function tierFacts(raw) {
  return Object.fromEntries(Object.entries(raw.tiers).map(([name, t]) => [name, { sloMs: t.slo.ttft_p95_ms, rank: t.rank }]));
}

import { ConfigError, parseConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { UsageError } from "../usage-error.js";
import { DrillSetupError, resolveDrillTarget, sameEndpoint } from "./drill-target.js";

function config({
  simulator = "\nsimulator:\n  listen: 127.0.0.1:7490\n  models: { sim-gold: {}, sim-silver: {} }",
  anonymous = "demo",
  goldExtra = "",
} = {}) {
  return parseConfig(
    `
router: { listen: "127.0.0.1:7400"${anonymous ? `, anonymous_tenant: ${anonymous}` : ""} }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers:
  sim: { kind: openai, base_url: "http://localhost:7490/v1" }
  cloud: { kind: openai, base_url: "https://api.example.com/v1" }
tiers:
  gold:
    rank: 2
    fallback: silver
    executor: { listen: "127.0.0.1:7410" }
    models:
      - { provider: sim, model: sim-gold, price: { input_per_mtok: 1, output_per_mtok: 2 } }
      - { id: cloud-gold, provider: cloud, model: gpt-x, price: { input_per_mtok: 1, output_per_mtok: 2 } }${goldExtra}
    timeouts: { ttft_ms: 2000 }
    slo: { ttft_p95_ms: 800 }
  silver:
    rank: 1
    executor: { listen: "127.0.0.1:7411" }
    models: [{ provider: sim, model: sim-silver, price: { input_per_mtok: 1, output_per_mtok: 2 } }]
plans:
  enterprise: { default_tier: gold, max_tier: gold }
tenants:
  demo: { plan: enterprise }
  other: { plan: enterprise }
${simulator}
`,
    "t.yaml",
    {},
  );
}

const opts = { tier: "gold", deployment: undefined, tenant: undefined, apiKey: undefined, tierHint: "" };

describe("resolveDrillTarget", () => {
  it("finds the router, the simulator behind the tier's first deployment, and the tier's objectives", () => {
    expect(resolveDrillTarget(config(), "t.yaml", opts)).toEqual({
      routerUrl: "http://127.0.0.1:7400",
      simulatorUrl: "http://localhost:7490",
      tier: "gold",
      deploymentId: "sim/sim-gold",
      provider: "sim",
      model: "sim-gold",
      tenant: "demo",
      objectives: { tier: "gold", sloTtftMs: 800, ttftTimeoutMs: 2_000, latencyTarget: 0.95, availabilityTarget: 0.99 },
    });
  });

  it("refuses a deployment whose provider is not the simulator", () => {
    expect(() => resolveDrillTarget(config(), "t.yaml", { ...opts, deployment: "cloud-gold" })).toThrow(DrillSetupError);
    expect(() => resolveDrillTarget(config(), "t.yaml", { ...opts, deployment: "cloud-gold" })).toThrow(
      /deployment cloud-gold uses provider "cloud" at https:\/\/api.example.com\/v1, which is not the simulator \(simulator.listen 127.0.0.1:7490\)/,
    );
  });

  it("refuses a config without a simulator section, and a simulator without the model", () => {
    expect(() => resolveDrillTarget(config({ simulator: "" }), "t.yaml", opts)).toThrow(/t.yaml has no simulator section/);
    const noModel = config({ simulator: "\nsimulator:\n  listen: 127.0.0.1:7490\n  models: { sim-silver: {} }" });
    expect(() => resolveDrillTarget(noModel, "t.yaml", opts)).toThrow(
      /the simulator has no model "sim-gold" \(simulator.models: sim-silver\)/,
    );
  });

  it("names the bad field of an invalid simulator section", () => {
    const bad = config({ simulator: "\nsimulator:\n  listen: nowhere\n  models: { sim-gold: {} }" });
    expect(() => resolveDrillTarget(bad, "t.yaml", opts)).toThrow(ConfigError);
    expect(() => resolveDrillTarget(bad, "t.yaml", opts)).toThrow(/simulator.listen: /);
  });

  it.each([
    [{ tier: "platinum" }, /^--tier: unknown tier "platinum" \(tiers: gold, silver\)/],
    [{ deployment: "nope" }, /^--deployment: tier gold has no deployment "nope" \(deployments: sim\/sim-gold, cloud-gold\)/],
    [{ tierHint: "bronze" }, /^--tier-hint: unknown tier "bronze"/],
    [{ tenant: "other" }, /^--tenant: only the anonymous tenant "demo" calls without a key; pass --api-key for tenant "other"/],
  ])("refuses %j as a usage error", (patch, message) => {
    expect(() => resolveDrillTarget(config(), "t.yaml", { ...opts, ...patch })).toThrow(UsageError);
    expect(() => resolveDrillTarget(config(), "t.yaml", { ...opts, ...patch })).toThrow(message);
  });

  it("needs --api-key when the router has no anonymous tenant", () => {
    expect(() => resolveDrillTarget(config({ anonymous: "" }), "t.yaml", opts)).toThrow(/^--api-key is required/);
    expect(resolveDrillTarget(config({ anonymous: "" }), "t.yaml", { ...opts, apiKey: "k" }).tenant).toBe("");
  });
});

describe("sameEndpoint", () => {
  it("treats loopback names as one host and fills default ports", () => {
    expect(sameEndpoint("http://localhost:7490/v1", "127.0.0.1:7490")).toBe(true);
    expect(sameEndpoint("http://127.0.0.1:7490/v1", "0.0.0.0:7490")).toBe(true);
    expect(sameEndpoint("http://[::1]:7490/v1", "127.0.0.1:7490")).toBe(true);
    expect(sameEndpoint("http://sim.internal/v1", "sim.internal:80")).toBe(true);
    expect(sameEndpoint("http://127.0.0.1:7491/v1", "127.0.0.1:7490")).toBe(false);
    expect(sameEndpoint("http://10.0.0.5:7490/v1", "127.0.0.1:7490")).toBe(false);
  });
});

import type { DeploymentConfig } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { DeploymentPool } from "./deployment-pool.js";

const price = { input_per_mtok: 1, output_per_mtok: 2 };
const models: DeploymentConfig[] = [
  { provider: "openai", model: "small", weight: 1, price },
  { id: "azure-east", provider: "azure", model: "small", weight: 3, price },
];

/** A `random` that returns the given values in turn. */
const sequence = (...values: number[]) => {
  let i = 0;
  return () => values[i++ % values.length]!;
};

/** Small seeded PRNG so the distribution check is reproducible. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

describe("DeploymentPool", () => {
  it("ids default to provider/model; explicit ids are kept", () => {
    const pool = new DeploymentPool(models);
    expect(pool.deployments.map((d) => d.id)).toEqual(["openai/small", "azure-east"]);
    expect(pool.deployments[1]).toEqual({ id: "azure-east", provider: "azure", model: "small", weight: 3, price });
  });

  it("maps the random point onto cumulative weights", () => {
    // Total weight 4: [0, 1) -> openai/small, [1, 4) -> azure-east.
    const pool = new DeploymentPool(models, sequence(0, 0.2499, 0.25, 0.9999));
    const none = new Set<string>();
    expect([pool.pick(none), pool.pick(none), pool.pick(none), pool.pick(none)].map((d) => d.id)).toEqual([
      "openai/small",
      "openai/small",
      "azure-east",
      "azure-east",
    ]);
  });

  it("picks in proportion to weight", () => {
    const pool = new DeploymentPool(
      [
        { provider: "a", model: "m", weight: 1, price },
        { provider: "b", model: "m", weight: 2, price },
        { provider: "c", model: "m", weight: 7, price },
      ],
      mulberry32(7),
    );
    const counts = new Map<string, number>();
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      const id = pool.pick(new Set()).id;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    const share = (id: string) => (counts.get(id) ?? 0) / n;
    expect(Math.abs(share("a/m") - 0.1)).toBeLessThan(0.015);
    expect(Math.abs(share("b/m") - 0.2)).toBeLessThan(0.015);
    expect(Math.abs(share("c/m") - 0.7)).toBeLessThan(0.015);
  });

  it("prefers deployments not tried yet, whatever the random value", () => {
    for (const r of [0, 0.5, 0.9999]) {
      const pool = new DeploymentPool(models, () => r);
      expect(pool.pick(new Set(["azure-east"])).id).toBe("openai/small");
      expect(pool.pick(new Set(["openai/small"])).id).toBe("azure-east");
    }
  });

  it("weights only the untried deployments", () => {
    const three: DeploymentConfig[] = [
      { provider: "a", model: "m", weight: 1, price },
      { provider: "b", model: "m", weight: 1, price },
      { provider: "c", model: "m", weight: 2, price },
    ];
    // Untried b (1) and c (2): total 3, so 0.34 * 3 = 1.02 lands on c.
    expect(new DeploymentPool(three, () => 0.34).pick(new Set(["a/m"])).id).toBe("c/m");
    expect(new DeploymentPool(three, () => 0.33).pick(new Set(["a/m"])).id).toBe("b/m");
  });

  it("when everything was tried, any deployment may be picked again", () => {
    const tried = new Set(["openai/small", "azure-east"]);
    expect(new DeploymentPool(models, () => 0.1).pick(tried).id).toBe("openai/small");
    expect(new DeploymentPool(models, () => 0.9).pick(tried).id).toBe("azure-east");
    // Unknown ids in `tried` are ignored.
    expect(new DeploymentPool(models, () => 0.1).pick(new Set(["gone/model"])).id).toBe("openai/small");
  });

  it("a random value of 1 (out of contract) still returns a deployment", () => {
    expect(new DeploymentPool(models, () => 1).pick(new Set()).id).toBe("azure-east");
  });
});

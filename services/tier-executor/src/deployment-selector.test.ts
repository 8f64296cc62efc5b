import { describe, expect, it } from "vitest";
import { Ewma, selectDeployment, type Candidate } from "./deployment-selector.js";

const candidate = (id: string, over: Partial<Candidate> = {}): Candidate => ({ id, weight: 1, outstanding: 0, latencyMs: 100, ...over });

/** Small seeded PRNG so the distribution checks are reproducible. */
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

/** Share of picks per id over `n` draws. */
function shares(pick: () => Candidate | undefined, n = 20_000): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const id = pick()?.id ?? "none";
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return new Map([...counts].map(([id, c]) => [id, c / n]));
}

describe("selectDeployment", () => {
  it("returns undefined for no candidates, whatever the strategy", () => {
    for (const strategy of ["weighted", "least_outstanding", "lowest_latency"] as const) {
      expect(selectDeployment(strategy, [], Math.random)).toBeUndefined();
    }
  });

  it("a single candidate is always chosen", () => {
    const only = [candidate("a", { outstanding: 9, latencyMs: 900 })];
    for (const strategy of ["weighted", "least_outstanding", "lowest_latency"] as const) {
      expect(selectDeployment(strategy, only, () => 0.99)?.id).toBe("a");
    }
  });

  describe("weighted", () => {
    const pool = [candidate("a", { weight: 1 }), candidate("b", { weight: 3 })];

    it("maps the random point onto cumulative weights", () => {
      // Total 4: [0, 1) -> a, [1, 4) -> b.
      expect(selectDeployment("weighted", pool, () => 0)?.id).toBe("a");
      expect(selectDeployment("weighted", pool, () => 0.2499)?.id).toBe("a");
      expect(selectDeployment("weighted", pool, () => 0.25)?.id).toBe("b");
      expect(selectDeployment("weighted", pool, () => 0.9999)?.id).toBe("b");
      expect(selectDeployment("weighted", pool, () => 1)?.id).toBe("b");
    });

    it("picks in proportion to weight, ignoring load and latency", () => {
      const random = mulberry32(11);
      const skewed = [candidate("a", { weight: 1, outstanding: 50 }), candidate("b", { weight: 4, latencyMs: 5_000 })];
      const s = shares(() => selectDeployment("weighted", skewed, random));
      expect(Math.abs((s.get("a") ?? 0) - 0.2)).toBeLessThan(0.015);
      expect(Math.abs((s.get("b") ?? 0) - 0.8)).toBeLessThan(0.015);
    });
  });

  describe("least_outstanding", () => {
    it("picks the deployment with the fewest attempts in flight", () => {
      const pool = [
        candidate("a", { outstanding: 3, weight: 100 }),
        candidate("b", { outstanding: 1 }),
        candidate("c", { outstanding: 2 }),
      ];
      for (const r of [0, 0.5, 0.9999]) expect(selectDeployment("least_outstanding", pool, () => r)?.id).toBe("b");
    });

    it("breaks ties by weight among the tied only", () => {
      const pool = [
        candidate("a", { outstanding: 1, weight: 1 }),
        candidate("b", { outstanding: 4, weight: 50 }),
        candidate("c", { outstanding: 1, weight: 3 }),
      ];
      const random = mulberry32(23);
      const s = shares(() => selectDeployment("least_outstanding", pool, random));
      expect(s.get("b")).toBeUndefined();
      expect(Math.abs((s.get("a") ?? 0) - 0.25)).toBeLessThan(0.015);
      expect(Math.abs((s.get("c") ?? 0) - 0.75)).toBeLessThan(0.015);
    });
  });

  describe("lowest_latency", () => {
    it("picks the lowest measured latency", () => {
      const pool = [
        candidate("a", { latencyMs: 300 }),
        candidate("b", { latencyMs: 120, weight: 0.1 }),
        candidate("c", { latencyMs: 180 }),
      ];
      for (const r of [0, 0.5, 0.9999]) expect(selectDeployment("lowest_latency", pool, () => r)?.id).toBe("b");
    });

    it("explores deployments with unknown latency first", () => {
      const pool = [candidate("fast", { latencyMs: 10 }), candidate("new", { latencyMs: 0 }), candidate("slow", { latencyMs: 900 })];
      for (const r of [0, 0.5, 0.9999]) expect(selectDeployment("lowest_latency", pool, () => r)?.id).toBe("new");
    });

    it("spreads exploration and ties by weight", () => {
      const unknown = [
        candidate("a", { latencyMs: 0, weight: 1 }),
        candidate("b", { latencyMs: 0, weight: 1 }),
        candidate("c", { latencyMs: 5 }),
      ];
      const random = mulberry32(29);
      const s = shares(() => selectDeployment("lowest_latency", unknown, random));
      expect(s.get("c")).toBeUndefined();
      expect(Math.abs((s.get("a") ?? 0) - 0.5)).toBeLessThan(0.015);

      const tied = [
        candidate("a", { latencyMs: 50, weight: 1 }),
        candidate("b", { latencyMs: 50, weight: 2 }),
        candidate("c", { latencyMs: 60 }),
      ];
      expect(selectDeployment("lowest_latency", tied, () => 0.3)?.id).toBe("a");
      expect(selectDeployment("lowest_latency", tied, () => 0.4)?.id).toBe("b");
    });
  });

  it("does not mutate the candidate list", () => {
    const pool = Object.freeze([candidate("a", { outstanding: 2 }), candidate("b", { outstanding: 1 })]);
    expect(selectDeployment("least_outstanding", pool, () => 0.5)?.id).toBe("b");
    expect(pool.map((c) => c.id)).toEqual(["a", "b"]);
  });
});

describe("Ewma", () => {
  it("is 0 until the first sample, which it takes as is", () => {
    const ewma = new Ewma();
    expect(ewma.value).toBe(0);
    ewma.update(250);
    expect(ewma.value).toBe(250);
  });

  it("a sample's weight halves every halfLifeSamples samples", () => {
    const ewma = new Ewma(4);
    ewma.update(100);
    for (let i = 0; i < 4; i++) ewma.update(0);
    expect(ewma.value).toBeCloseTo(50, 9);
    for (let i = 0; i < 4; i++) ewma.update(0);
    expect(ewma.value).toBeCloseTo(25, 9);
  });

  it("converges to a steady input and ignores non-finite samples", () => {
    const ewma = new Ewma(2);
    ewma.update(10);
    for (let i = 0; i < 100; i++) ewma.update(200);
    expect(ewma.value).toBeCloseTo(200, 6);
    ewma.update(Number.NaN);
    ewma.update(Infinity);
    expect(ewma.value).toBeCloseTo(200, 6);
  });

  it("rejects a non-positive half-life", () => {
    expect(() => new Ewma(0)).toThrow(RangeError);
    expect(() => new Ewma(-1)).toThrow(RangeError);
  });
});

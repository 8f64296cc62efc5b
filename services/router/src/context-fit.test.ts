import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, TierLadder, type Config } from "@tiermesh/config";
import { CONTEXT_LENGTH_EXCEEDED, ERROR_REASON_HEADER, TierState } from "@tiermesh/proto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ContextFit, isContextMiss, type ContextRange } from "./context-fit.js";

interface TierSpec {
  name: string;
  rank: number;
  fallback?: string;
  /** One deployment per entry; undefined = no declared window. */
  windows: (number | undefined)[];
  floor?: string;
  defaultMaxTokens?: number;
  system?: string;
}

function configOf(specs: readonly TierSpec[]): Config {
  const tiers = Object.fromEntries(
    specs.map((t, i) => [
      t.name,
      {
        rank: t.rank,
        ...(t.fallback ? { fallback: t.fallback } : {}),
        executor: { listen: `127.0.0.1:${7410 + i}` },
        models: t.windows.map((w, j) => ({
          provider: "sim",
          model: `sim-${t.name}-${j}`,
          price: { input_per_mtok: 1, output_per_mtok: 1 },
          ...(w === undefined ? {} : { context_window: w }),
        })),
        prompt: { default_max_tokens: t.defaultMaxTokens ?? 256, ...(t.system ? { system: t.system } : {}) },
        ...(t.floor ? { routing: { floor: t.floor } } : {}),
      },
    ]),
  );
  const raw = {
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: { sim: { kind: "openai", base_url: "http://127.0.0.1:7490/v1" } },
    tiers,
    plans: {},
  };
  return parseConfig(JSON.stringify(raw), "t.yaml", {});
}

function fitOf(specs: readonly TierSpec[], down: readonly string[] = []) {
  const config = configOf(specs);
  const ladder = new TierLadder(config.tiers);
  return { fit: new ContextFit(config.tiers, ladder, (t) => (down.includes(t) ? TierState.DOWN : TierState.HEALTHY)), ladder };
}

// gold 32k, silver 8k (two deployments, one small), bronze 4k.
const LADDER: TierSpec[] = [
  { name: "gold", rank: 3, fallback: "silver", windows: [32_000] },
  { name: "silver", rank: 2, fallback: "bronze", windows: [4_096, 8_192] },
  { name: "bronze", rank: 1, windows: [4_096] },
];
const anyPlan = (requested: string): ContextRange => ({ requested, minTier: "bronze", maxTier: "gold" });
/** A prompt of `tokens` tokens whose byte bound is `bound`; `counted` records whether anyone needed the count. */
function promptOf(tokens: number, bound = tokens * 4) {
  const p = { bound, counted: false, over: (n: number) => bound > n && p.count() > n, count: () => ((p.counted = true), tokens) };
  return p;
}
const demand = (messageTokens: number, askedMaxTokens = 0) => ({ prompt: promptOf(messageTokens), askedMaxTokens, tenant: "acme" });

describe("ContextFit.plan", () => {
  it("keeps the plan when its first tier fits, dropping fallbacks too small for the request", () => {
    const { fit } = fitOf(LADDER);
    expect(fit.plan(["gold", "silver", "bronze"], anyPlan("gold"), demand(1_000))).toEqual({
      tiers: ["gold", "silver", "bronze"],
      reasons: [],
    });
    const r = fit.plan(["silver", "bronze"], anyPlan("silver"), demand(5_000));
    expect(r.tiers).toEqual(["silver"]);
    expect(r.reasons).toEqual([
      "silver serves it from its larger deployments: 5,256 tokens do not fit sim/sim-silver-0 (4,096 tokens)",
      "bronze is not a fallback for this request: prompt of 5,000 tokens plus max_tokens 256 exceeds bronze's largest context window (4,096 tokens, model sim-bronze-0)",
    ]);
  });

  it("sends a request too long for its tier to the nearest larger tier above, before any call, and says why", () => {
    const { fit } = fitOf(LADDER);
    const r = fit.plan(["bronze"], anyPlan("bronze"), demand(7_000, 1_000));
    expect(r.tiers).toEqual(["silver", "gold"]);
    expect(r.reasons).toEqual([
      "prompt of 7,000 tokens plus max_tokens 1,000 exceeds bronze's largest context window (4,096 tokens, model sim-bronze-0); routed to silver (context window 8,192 tokens, model sim-silver-1)",
      "silver serves it from its larger deployments: 8,000 tokens do not fit sim/sim-silver-0 (4,096 tokens)",
    ]);
    expect(fit.plan(["silver", "bronze"], anyPlan("silver"), demand(9_000)).tiers).toEqual(["gold"]);
  });

  it("says when the tier serves the request from its larger deployments only", () => {
    const { fit } = fitOf(LADDER);
    expect(fit.plan(["silver", "bronze"], anyPlan("silver"), demand(5_000)).reasons[0]).toBe(
      "silver serves it from its larger deployments: 5,256 tokens do not fit sim/sim-silver-0 (4,096 tokens)",
    );
  });

  it("counts the tier's system prompt and default max tokens", () => {
    const specs: TierSpec[] = [
      { name: "gold", rank: 2, windows: [32_000] },
      { name: "bronze", rank: 1, windows: [4_096], defaultMaxTokens: 1_000, system: "x".repeat(400) },
    ];
    const { fit } = fitOf(specs);
    // 3,000 + 104 (system prompt) + 1,000 > 4,096
    expect(fit.plan(["bronze"], { requested: "bronze", minTier: "bronze", maxTier: "gold" }, demand(3_000)).tiers).toEqual(["gold"]);
    expect(fit.plan(["bronze"], { requested: "bronze", minTier: "bronze", maxTier: "gold" }, demand(2_900)).tiers).toEqual(["bronze"]);
  });

  it("prefers a fallback that fits over a larger tier above that is down", () => {
    const specs: TierSpec[] = [
      { name: "gold", rank: 3, fallback: "silver", windows: [32_000] },
      { name: "silver", rank: 2, fallback: "bronze", windows: [4_096] },
      { name: "bronze", rank: 1, windows: [16_000] },
    ];
    const { fit } = fitOf(specs, ["gold"]);
    expect(fit.plan(["silver", "bronze"], anyPlan("silver"), demand(8_000)).tiers).toEqual(["bronze", "gold"]);
  });

  it("never goes above the plan's max_tier nor below its floor: with nothing that fits, INVALID_ARGUMENT naming the largest allowed window", () => {
    const { fit } = fitOf(LADDER);
    let err: unknown;
    try {
      fit.plan(["silver", "bronze"], { requested: "silver", minTier: "bronze", maxTier: "silver" }, demand(9_120, 1_024));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConnectError);
    const c = err as ConnectError;
    expect(c.code).toBe(Code.InvalidArgument);
    expect(c.rawMessage).toBe(
      "prompt of 9,120 tokens plus max_tokens 1,024 exceeds the largest context window allowed for this plan (8,192 tokens, model sim-silver-1)",
    );
    expect(c.metadata.get(ERROR_REASON_HEADER)).toBe(CONTEXT_LENGTH_EXCEEDED);
    expect(isContextMiss(c)).toBe(true);
    // A floor of gold (its quality floor) leaves only gold.
    const floored = fitOf([{ ...LADDER[0]!, floor: "gold" }, LADDER[1]!, LADDER[2]!]).fit;
    expect(floored.allowed({ requested: "gold", minTier: "bronze", maxTier: "gold" })).toEqual(["gold"]);
  });

  it("rules nothing out when a tier declares no window", () => {
    const { fit } = fitOf([
      { name: "gold", rank: 2, windows: [undefined] },
      { name: "bronze", rank: 1, windows: [4_096] },
    ]);
    expect(fit.plan(["bronze"], { requested: "bronze", minTier: "bronze", maxTier: "gold" }, demand(1e6)).tiers).toEqual(["gold"]);
  });
});

describe("ContextFit and the tokenizer", () => {
  it("counts the prompt only when its byte length does not settle the fit, and passes the count to executors that need it", () => {
    const { fit } = fitOf(LADDER);
    const short = { prompt: promptOf(100, 400), askedMaxTokens: 0, tenant: "acme" };
    expect(fit.plan(["silver", "bronze"], anyPlan("silver"), short).tiers).toEqual(["silver", "bronze"]);
    expect(fit.tokensFor("silver", short)).toBe(0);
    expect(short.prompt.counted).toBe(false);
    // 5,000 bytes could be 5,000 tokens: more than silver's small deployment holds, so count.
    const long = { prompt: promptOf(1_000, 5_000), askedMaxTokens: 0, tenant: "acme" };
    expect(fit.tokensFor("gold", long)).toBe(0);
    expect(long.prompt.counted).toBe(false);
    expect(fit.tokensFor("silver", long)).toBe(1_000);
    expect(long.prompt.counted).toBe(true);
  });
});

describe("ContextFit.afterMiss", () => {
  it("after a refusal for length, tries only tiers not begun whose window is larger", () => {
    const { fit } = fitOf(LADDER);
    // silver said it would fit (8,192) but refused: gold (32,000) is next, bronze (4,096) is not.
    expect(fit.afterMiss(["silver"], ["bronze"], "silver", anyPlan("silver"), demand(6_000))).toEqual(["gold"]);
    expect(fit.afterMiss(["gold"], ["silver", "bronze"], "gold", anyPlan("gold"), demand(6_000))).toEqual([]);
    expect(fit.afterMiss(["silver"], [], "silver", { requested: "silver", minTier: "bronze", maxTier: "silver" }, demand(6_000))).toEqual(
      [],
    );
  });
});

// Property: whatever the ladder, windows, plan range and health, the tiers chosen are all
// inside the range, all fit, and a refusal happens only when no allowed tier fits.
const NAMES = ["t0", "t1", "t2", "t3", "t4"];
const windowArb = fc.option(fc.integer({ min: 1_000, max: 64_000 }), { nil: undefined, freq: 5 });
const scenario = fc.integer({ min: 2, max: 5 }).chain((n) =>
  fc.record({
    windows: fc.array(fc.array(windowArb, { minLength: 1, maxLength: 3 }), { minLength: n, maxLength: n }),
    maxTokens: fc.array(fc.integer({ min: 1, max: 4_000 }), { minLength: n, maxLength: n }),
    floors: fc.array(fc.option(fc.integer({ min: 0, max: n - 1 }), { nil: undefined }), { minLength: n, maxLength: n }),
    down: fc.subarray(NAMES.slice(0, n)),
    lo: fc.integer({ min: 0, max: n - 1 }),
    hi: fc.integer({ min: 0, max: n - 1 }),
    pick: fc.nat(),
    messageTokens: fc.integer({ min: 0, max: 70_000 }),
    asked: fc.integer({ min: 0, max: 8_000 }),
  }),
);

describe("ContextFit, for all ladders and plans", () => {
  it("never routes above the plan's max_tier or below its floor, only to tiers that fit, and refuses only when none fits", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const n = s.windows.length;
        // t0 is the highest rank; each tier falls back to the next lower one.
        const specs: TierSpec[] = s.windows.map((windows, i) => {
          const floor = s.floors[i];
          return {
            name: NAMES[i]!,
            rank: n - i,
            ...(i + 1 < n ? { fallback: NAMES[i + 1] } : {}),
            windows,
            defaultMaxTokens: s.maxTokens[i]!,
            ...(floor !== undefined && floor >= i ? { floor: NAMES[floor]! } : {}),
          };
        });
        const { fit, ladder } = fitOf(specs, s.down);
        const [maxI, minI] = [Math.min(s.lo, s.hi), Math.max(s.lo, s.hi)];
        const requested = NAMES[maxI + (s.pick % (minI - maxI + 1))]!;
        const range = { requested, minTier: NAMES[minI]!, maxTier: NAMES[maxI]! };
        const d = demand(s.messageTokens, s.asked);
        const allowed = fit.allowed(range);
        const floor = specs.find((t) => t.name === requested)!.floor ?? NAMES[n - 1]!;
        for (const t of allowed) {
          expect(ladder.above(t, range.maxTier)).toBe(false);
          expect(ladder.above(range.minTier, t) || ladder.above(floor, t)).toBe(false);
        }
        // The routing policy's chain: the requested tier, then its fallbacks down to the floor.
        const planned = allowed.filter((t) => !ladder.above(t, requested));
        let chosen: string[];
        try {
          chosen = fit.plan(planned, range, d).tiers;
        } catch (e) {
          expect(isContextMiss(ConnectError.from(e))).toBe(true);
          expect(allowed.some((t) => fit.fits(t, d))).toBe(false);
          return;
        }
        expect(chosen.length).toBeGreaterThan(0);
        expect(new Set(chosen).size).toBe(chosen.length);
        for (const t of chosen) {
          expect(allowed).toContain(t);
          expect(fit.fits(t, d)).toBe(true);
        }
        const after = fit.afterMiss([chosen[0]!], chosen.slice(1), chosen[0]!, range, d);
        for (const t of after) {
          expect(allowed).toContain(t);
          expect(t).not.toBe(chosen[0]);
          expect(fit.fits(t, d)).toBe(true);
        }
      }),
      { numRuns: 200 },
    );
  });
});

import { create } from "@bufbuild/protobuf";
import { parseConfig, TierLadder } from "@tiermesh/config";
import { TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { planRoute } from "./route-plan.js";
import { TierStatusTable, type TierStatusView } from "./tier-status-table.js";

const tier = (name: string, rank: number, fallback: string | undefined, port: number) => `
  ${name}:
    rank: ${rank}
    ${fallback ? `fallback: ${fallback}` : ""}
    executor: { listen: 127.0.0.1:${port} }
    models: [{ provider: sim, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]`;

const config = parseConfig(
  `
router: { listen: 127.0.0.1:7400 }
classifier: { listen: 127.0.0.1:7401 }
health_monitor: { listen: 127.0.0.1:7402 }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:${tier("gold", 3, "silver", 7410)}${tier("silver", 2, "bronze", 7411)}${tier("bronze", 1, undefined, 7412)}
plans: { p: { default_tier: silver, max_tier: gold } }
`,
  "test.yaml",
  {},
);
const ladder = new TierLadder(config.tiers);
const fallbackOf = (t: string) => config.tiers[t]?.fallback;

const NOW = 1_800_000_000_000;
const TTL = 15_000;

/** A status table holding the given states, all fresh at NOW unless `atMs` says otherwise. */
function statuses(states: Record<string, TierState | [TierState, number]>) {
  const table = new TierStatusTable(TTL);
  let sequence = 100n;
  for (const [name, s] of Object.entries(states)) {
    const [state, atMs] = Array.isArray(s) ? s : [s, NOW - 1_000];
    table.apply(
      create(TierStatusEventSchema, { tier: name, state, reason: `${name} reason`, sequence: ++sequence, atMs: BigInt(atMs) }),
    );
  }
  return (t: string): TierStatusView | undefined => table.get(t, NOW);
}

describe("planRoute", () => {
  it("healthy chain: requested tier first, then its fallbacks in order", () => {
    const plan = planRoute({ tier: "gold", minTier: "bronze" }, ladder, fallbackOf, statuses({ gold: TierState.HEALTHY, silver: TierState.HEALTHY }));
    expect(plan).toEqual({ tiers: ["gold", "silver", "bronze"], reasons: [] });
  });

  it("starts at the requested tier, not above it", () => {
    expect(planRoute({ tier: "silver", minTier: "bronze" }, ladder, fallbackOf, () => undefined).tiers).toEqual(["silver", "bronze"]);
  });

  it("requested tier down: the fallback serves first and the down tier goes last", () => {
    const plan = planRoute({ tier: "gold", minTier: "bronze" }, ladder, fallbackOf, statuses({ gold: TierState.DOWN }));
    expect(plan.tiers).toEqual(["silver", "bronze", "gold"]);
    expect(plan.reasons).toEqual(["gold is down (tier status #101: gold reason)", "served by fallback tier silver"]);
    expect(plan.reasons[0]!.startsWith("gold is down")).toBe(true);
  });

  it("degraded tiers still serve in place", () => {
    const plan = planRoute({ tier: "gold", minTier: "bronze" }, ladder, fallbackOf, statuses({ gold: TierState.DEGRADED }));
    expect(plan).toEqual({ tiers: ["gold", "silver", "bronze"], reasons: [] });
  });

  it("the quality floor stops the chain", () => {
    expect(planRoute({ tier: "gold", minTier: "silver" }, ladder, fallbackOf, () => undefined).tiers).toEqual(["gold", "silver"]);
    expect(planRoute({ tier: "gold", minTier: "gold" }, ladder, fallbackOf, () => undefined).tiers).toEqual(["gold"]);
    const plan = planRoute({ tier: "gold", minTier: "silver" }, ladder, fallbackOf, statuses({ gold: TierState.DOWN }));
    expect(plan.tiers).toEqual(["silver", "gold"]);
  });

  it("all down: the order is kept and the plan says it tries anyway", () => {
    const plan = planRoute(
      { tier: "gold", minTier: "bronze" },
      ladder,
      fallbackOf,
      statuses({ gold: TierState.DOWN, silver: TierState.DOWN, bronze: TierState.DOWN }),
    );
    expect(plan.tiers).toEqual(["gold", "silver", "bronze"]);
    expect(plan.reasons).toEqual([
      "gold is down (tier status #101: gold reason)",
      "silver is down (tier status #102: silver reason)",
      "bronze is down (tier status #103: bronze reason)",
      "every tier from gold down to bronze is down; trying anyway",
    ]);
  });

  it("stale or unknown status counts as up", () => {
    const stale = statuses({ gold: [TierState.DOWN, NOW - TTL - 1], silver: TierState.DOWN });
    const plan = planRoute({ tier: "gold", minTier: "bronze" }, ladder, fallbackOf, stale);
    expect(plan.tiers).toEqual(["gold", "bronze", "silver"]);
    expect(plan.reasons).toEqual(["silver is down (tier status #102: silver reason)"]);
  });

  it("a fallback cycle does not loop", () => {
    const cyclic = (t: string) => ({ gold: "silver", silver: "gold" })[t];
    expect(planRoute({ tier: "gold", minTier: "bronze" }, ladder, cyclic, () => undefined).tiers).toEqual(["gold", "silver"]);
  });
});

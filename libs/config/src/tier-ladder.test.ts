import { describe, expect, it } from "vitest";
import { TierLadder } from "./tier-ladder.js";

// Only `rank` matters to the ladder; the rest of TierConfig is irrelevant here.
const ladder = new TierLadder({
  silver: { rank: 2 },
  bronze: { rank: -1 },
  gold: { rank: 10 },
} as unknown as ConstructorParameters<typeof TierLadder>[0]);

describe("TierLadder", () => {
  it("orders names by rank, highest first, whatever the config order", () => {
    expect(ladder.names).toEqual(["gold", "silver", "bronze"]);
    expect(ladder.highest).toBe("gold");
    expect(ladder.lowest).toBe("bronze");
  });

  it("knows ranks and rejects unknown tiers", () => {
    expect(ladder.rank("silver")).toBe(2);
    expect(ladder.has("gold")).toBe(true);
    expect(ladder.has("platinum")).toBe(false);
    expect(() => ladder.rank("platinum")).toThrow(RangeError);
    expect(() => ladder.rank("platinum")).toThrow('unknown tier "platinum"');
  });

  it("clamps into [min, max]", () => {
    expect(ladder.clamp("gold", "bronze", "silver")).toBe("silver");
    expect(ladder.clamp("bronze", "silver", "gold")).toBe("silver");
    expect(ladder.clamp("silver", "bronze", "gold")).toBe("silver");
    expect(ladder.clamp("silver", "silver", "silver")).toBe("silver");
    expect(ladder.clamp("gold", "gold", "gold")).toBe("gold");
  });

  it("above is strict", () => {
    expect(ladder.above("gold", "silver")).toBe(true);
    expect(ladder.above("silver", "gold")).toBe(false);
    expect(ladder.above("silver", "silver")).toBe(false);
    expect(ladder.above("silver", "bronze")).toBe(true);
  });

  it("a single tier is both highest and lowest", () => {
    const one = new TierLadder({ only: { rank: 0 } } as unknown as ConstructorParameters<typeof TierLadder>[0]);
    expect(one.names).toEqual(["only"]);
    expect(one.highest).toBe("only");
    expect(one.lowest).toBe("only");
    expect(one.clamp("only", "only", "only")).toBe("only");
  });
});

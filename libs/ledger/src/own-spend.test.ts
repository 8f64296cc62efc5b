import { describe, expect, it } from "vitest";
import { OwnSpend } from "./own-spend.js";

describe("OwnSpend", () => {
  it("holds an estimate, then the cost until the aggregates have held the record for the grace", () => {
    const own = new OwnSpend(1_000);
    const t = Date.UTC(2026, 10, 26, 12);
    own.begin("r1", "acme", 0.1, t);
    own.begin("r2", "acme", 0.1, t);
    own.begin("r3", "other", 5, t);
    expect(own.spend("acme", t)).toEqual({ monthUsd: 0.2, dayUsd: 0.2 });
    own.finish("r1", "acme.gold.2026112612", 0.04, t);
    own.cancel("r2");
    expect(own.spend("acme", t).monthUsd).toBeCloseTo(0.04, 12);
    // Not stored yet: kept whatever the aggregates say.
    expect(own.settle(() => 100n, t)).toEqual(new Set());
    own.stored("r1", 42n);
    expect(own.settle(() => 41n, t)).toEqual(new Set());
    expect(own.settle(() => 42n, t)).toEqual(new Set());
    expect(own.spend("acme", t).monthUsd).toBeCloseTo(0.04, 12);
    expect(own.settle(() => 42n, t + 1_000)).toEqual(new Set(["acme"]));
    expect(own.spend("acme", t)).toEqual({ monthUsd: 0, dayUsd: 0 });
    expect(own.tenants()).toEqual(new Set(["other"]));
    // A new day and month start from zero.
    expect(own.spend("other", Date.UTC(2026, 11, 1))).toEqual({ monthUsd: 0, dayUsd: 0 });
  });
});

import { create } from "@bufbuild/protobuf";
import { TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { TierStatusTable } from "./tier-status-table.js";

const event = (tier: string, sequence: bigint, state: TierState, atMs = 1_000, reason = "r") =>
  create(TierStatusEventSchema, { tier, state, sequence, atMs: BigInt(atMs), reason });

describe("TierStatusTable", () => {
  it("keeps the newer sequence and ignores older or equal ones", () => {
    const table = new TierStatusTable(10_000);
    expect(table.apply(event("gold", 5n, TierState.DOWN, 1_000, "five"))).toBe(true);
    expect(table.apply(event("gold", 4n, TierState.HEALTHY, 2_000, "four"))).toBe(false);
    expect(table.apply(event("gold", 5n, TierState.HEALTHY, 2_000, "five again"))).toBe(false);
    expect(table.get("gold", 1_500)).toEqual({ state: TierState.DOWN, reason: "five", sequence: 5n, atMs: 1_000 });
    expect(table.apply(event("gold", 6n, TierState.HEALTHY, 3_000, "six"))).toBe(true);
    expect(table.get("gold", 3_000)).toEqual({ state: TierState.HEALTHY, reason: "six", sequence: 6n, atMs: 3_000 });
  });

  it("compares sequences as bigints beyond 2^53", () => {
    const table = new TierStatusTable(10_000);
    const big = 1_795_639_522_820n * 1000n;
    table.apply(event("gold", big + 1n, TierState.DOWN));
    expect(table.apply(event("gold", big, TierState.HEALTHY))).toBe(false);
    expect(table.get("gold", 1_000)?.state).toBe(TierState.DOWN);
  });

  it("keeps tiers apart", () => {
    const table = new TierStatusTable(10_000);
    table.apply(event("gold", 9n, TierState.DOWN));
    expect(table.apply(event("silver", 1n, TierState.DEGRADED))).toBe(true);
    expect(table.get("gold", 1_000)?.state).toBe(TierState.DOWN);
    expect(table.get("silver", 1_000)?.state).toBe(TierState.DEGRADED);
    expect(table.get("bronze", 1_000)).toBeUndefined();
  });

  it("returns undefined once the status is older than the TTL", () => {
    const table = new TierStatusTable(15_000);
    table.apply(event("gold", 1n, TierState.DOWN, 100_000));
    expect(table.get("gold", 115_000)?.state).toBe(TierState.DOWN);
    expect(table.get("gold", 115_001)).toBeUndefined();
    // A fresh heartbeat brings it back.
    table.apply(event("gold", 2n, TierState.DOWN, 115_001));
    expect(table.get("gold", 115_002)?.state).toBe(TierState.DOWN);
  });

  it("counts state changes, not heartbeats", () => {
    const table = new TierStatusTable(10_000);
    table.apply(event("gold", 1n, TierState.HEALTHY));
    table.apply(event("gold", 2n, TierState.HEALTHY));
    table.apply(event("gold", 3n, TierState.DOWN));
    table.apply(event("gold", 2n, TierState.HEALTHY)); // older: ignored
    table.apply(event("gold", 4n, TierState.DOWN));
    expect(table.changeCount).toBe(2);
  });
});

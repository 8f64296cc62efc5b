import { create } from "@bufbuild/protobuf";
import { TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { TierStatusView } from "./tier-status-view.js";

const status = (tier: string, state: TierState, sequence: bigint, monitorId: string, reason = "r") =>
  create(TierStatusEventSchema, { tier, state, previousState: TierState.HEALTHY, sequence, reason, monitorId, sinceMs: 5n });

describe("TierStatusView", () => {
  it("shows the published status while it is fresh, this replica's own when it goes stale", () => {
    const view = new TierStatusView(["gold"], 3_000);
    expect(view.shown("gold", 0)).toMatchObject({ state: "UNKNOWN" });

    expect(view.fromLocal(status("gold", TierState.HEALTHY, 1n, "me"), 0)).toMatchObject({
      from: "UNKNOWN",
      to: "HEALTHY",
      source: "local",
    });
    const down = view.fromPublished(status("gold", TierState.DOWN, 100n, "leader", "3 consecutive failed attempts"), 10);
    expect(down).toEqual({
      atMs: 10,
      tier: "gold",
      from: "HEALTHY",
      to: "DOWN",
      reason: "3 consecutive failed attempts",
      source: "published",
      monitorId: "leader",
    });
    // This replica still thinks gold is healthy: the leader's word wins while it is fresh.
    expect(view.fromLocal(status("gold", TierState.HEALTHY, 2n, "me"), 20)).toBeUndefined();
    expect(view.refresh(3_000)).toEqual([]);
    expect(view.shown("gold", 3_000)).toMatchObject({ state: "DOWN", source: "published", monitorId: "leader", sinceMs: 5 });

    // No heartbeat for longer than freshMs: nobody publishes, so this replica's view is shown.
    expect(view.refresh(3_011)).toMatchObject([{ from: "DOWN", to: "HEALTHY", source: "local", monitorId: "me" }]);
  });

  it("drops published statuses no newer than the last one (a bucket read after a reconnect, a late duplicate)", () => {
    const view = new TierStatusView(["gold"], 3_000);
    view.fromPublished(status("gold", TierState.DOWN, 7n, "leader"), 0);
    expect(view.fromPublished(status("gold", TierState.HEALTHY, 7n, "leader"), 1)).toBeUndefined();
    expect(view.fromPublished(status("gold", TierState.HEALTHY, 6n, "leader"), 2)).toBeUndefined();
    expect(view.shown("gold", 2).state).toBe("DOWN");
    expect(view.fromPublished(status("gold", TierState.DEGRADED, 8n, "leader"), 3)).toMatchObject({ from: "DOWN", to: "DEGRADED" });
  });

  it("ignores tiers it does not know", () => {
    const view = new TierStatusView(["gold"], 3_000);
    expect(view.fromPublished(status("platinum", TierState.DOWN, 1n, "leader"), 0)).toBeUndefined();
    expect(view.refresh(0)).toEqual([]);
  });
});

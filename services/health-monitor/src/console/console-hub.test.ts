import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus, TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "../monitor-config.test-support.js";
import { StatusBoard } from "../status-board.js";
import { ConsoleHub } from "./console-hub.js";
import type { ConsoleMessage } from "./console-types.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 2
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: { ttft_p95_ms: 800 }
  silver:
    rank: 1
    executor: { listen: "127.0.0.1:6" }
    models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
`,
  `{ listen: "127.0.0.1:3", heartbeat_ms: 1000 }`,
);

/** A hub over a real StatusBoard, with what it sends. */
function hubWithBoard() {
  const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
  const hub = new ConsoleHub({
    config,
    monitorId: "m1",
    slis: (now) => board.slis(now),
    leading: () => true,
    natsConnected: () => true,
    trafficSeconds: 2,
  });
  const sent: ConsoleMessage[] = [];
  hub.subscribe((m) => sent.push(m));
  const served = (tier: string, requestedTier: string, at: number, ttftMs: number, costUsd = 0.001) => {
    const o = create(OutcomeSchema, {
      tier,
      requestedTier,
      deployment: `${tier}-a`,
      status: OutcomeStatus.OK,
      ttftMs,
      latencyMs: ttftMs * 2,
      costUsd,
      atMs: BigInt(at),
    });
    board.record(o, at);
    hub.recordOutcome(o, at);
  };
  return { board, hub, sent, served };
}

const published = (tier: string, state: TierState, sequence: bigint, reason: string) =>
  create(TierStatusEventSchema, {
    tier,
    state,
    previousState: TierState.HEALTHY,
    sequence,
    reason,
    monitorId: "leader",
    sinceMs: 1_500n,
    atMs: 1_500n,
  });

describe("ConsoleHub", () => {
  it("puts together each tier's published state, this replica's SLIs, and the traffic split, highest tier first", () => {
    const { hub, served } = hubWithBoard();
    for (let i = 0; i < 10; i++) served("gold", "gold", 10_000 + i * 50, 100 + i);
    for (let i = 0; i < 4; i++) served("gold", "silver", 10_500 + i * 50, 200);
    hub.fromPublished(published("gold", TierState.HEALTHY, 5n, "no failures observed"), 11_000);

    const snap = hub.snapshot(12_000);
    expect(snap).toMatchObject({
      monitorId: "m1",
      leading: true,
      natsConnected: true,
      series: [],
      timeline: [{ tier: "gold", from: "UNKNOWN", to: "HEALTHY" }],
    });
    expect(snap.tiers.map((t) => t.tier)).toEqual(["gold", "silver"]);
    const [gold, silver] = snap.tiers;
    expect(gold).toMatchObject({
      state: "HEALTHY",
      reason: "no failures observed",
      source: "published",
      monitorId: "leader",
      sloTtftP95Ms: 800,
      servedPerSecond: 7,
    });
    expect(gold!.sli).toMatchObject({ sampleCount: 14, errorRate: 0, ttftP50Ms: 106 });
    expect(gold!.costUsdPerMinute).toBeCloseTo((14 * 0.001 * 60) / 2, 12);
    expect(silver).toMatchObject({ state: "UNKNOWN", servedPerSecond: 0 });
    expect(snap.traffic.flows).toEqual([
      { requested: "gold", served: "gold", kind: "own", perSecond: 5 },
      { requested: "silver", served: "gold", kind: "promotion", perSecond: 2 },
    ]);
    // The snapshot is plain JSON: what the endpoint and the event stream send.
    expect(JSON.parse(JSON.stringify(snap))).toEqual(snap);
  });

  it("tells subscribers of a change of shown state at once, with the tier's row and the timeline entry", () => {
    const { hub, sent } = hubWithBoard();
    hub.fromPublished(published("gold", TierState.HEALTHY, 5n, "ok"), 1_000);
    hub.fromPublished(published("gold", TierState.HEALTHY, 6n, "ok"), 1_500);
    hub.fromPublished(published("gold", TierState.DOWN, 7n, "3 consecutive failed attempts (threshold 3)"), 2_000);

    expect(sent.map((m) => m.type)).toEqual(["status", "status"]);
    const last = sent[1]!;
    if (last.type !== "status") throw new Error("expected a status message");
    expect(last.data.entry).toEqual({
      atMs: 2_000,
      tier: "gold",
      from: "HEALTHY",
      to: "DOWN",
      reason: "3 consecutive failed attempts (threshold 3)",
      source: "published",
      monitorId: "leader",
    });
    expect(last.data.tier).toMatchObject({ tier: "gold", state: "DOWN" });
    expect(hub.snapshot(2_000).timeline.map((e) => `${e.tier}:${e.to}`)).toEqual(["gold:HEALTHY", "gold:DOWN"]);
  });

  it("adds one chart point per second on tick: the last whole second's answers and moves, and the SLIs; gaps where nothing was measured", () => {
    const { hub, sent, served } = hubWithBoard();
    for (let i = 0; i < 3; i++) served("gold", "gold", 20_100 + i, 50);
    served("silver", "gold", 20_200, 300);
    hub.tick(21_050);
    hub.tick(21_900); // the same second again: no second point
    hub.tick(22_010);

    const series = hub.snapshot(22_010).series;
    expect(series.map((p) => p.t)).toEqual([20, 21]);
    expect(series[0]).toMatchObject({ t: 20, fallbacksPerSecond: 1, promotionsPerSecond: 0 });
    expect(series[0]!.tiers["gold"]).toMatchObject({ servedPerSecond: 3, ttftP50Ms: 50, errorRate: 0 });
    expect(series[1]!.tiers["gold"]!.servedPerSecond).toBe(0);
    const ticks = sent.filter((m) => m.type === "tick");
    expect(ticks).toHaveLength(3);
    if (ticks[0]!.type !== "tick") throw new Error("expected a tick");
    expect(ticks[0]!.data.traffic).toMatchObject({ servedPerSecond: 2, fallbacksPerSecond: 0.5 });

    const quiet = hubWithBoard();
    quiet.hub.tick(5_000);
    expect(quiet.hub.snapshot(5_000).series[0]!.tiers["silver"]).toEqual({
      ttftP50Ms: null,
      ttftP95Ms: null,
      ttftP99Ms: null,
      latencyP95Ms: null,
      errorRate: null,
      timeoutRate: null,
      rateLimitedRate: null,
      servedPerSecond: 0,
      costUsdPerMinute: 0,
    });
  });

  it("keeps a bounded history and timeline", () => {
    const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
    const hub = new ConsoleHub({
      config,
      monitorId: "m1",
      slis: (now) => board.slis(now),
      leading: () => false,
      natsConnected: () => false,
      historySeconds: 3,
      timelineLength: 2,
    });
    for (let s = 1; s <= 5; s++) hub.tick(s * 1_000);
    for (const [i, state] of [TierState.HEALTHY, TierState.DOWN, TierState.DEGRADED].entries())
      hub.fromPublished(published("gold", state, BigInt(i + 1), "r"), 6_000);
    const snap = hub.snapshot(6_000);
    expect(snap.series.map((p) => p.t)).toEqual([2, 3, 4]);
    expect(snap.timeline.map((e) => e.to)).toEqual(["DOWN", "DEGRADED"]);
    expect(snap).toMatchObject({ leading: false, natsConnected: false });
  });
});

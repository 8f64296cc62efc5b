import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus, TierState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { StatusBoard } from "./status-board.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 2
    executor: { listen: "127.0.0.1:5" }
    models: [{ id: gold-a, provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: { consecutive_failures_down: 3, min_dwell_ms: 1000 }
  bronze:
    rank: 1
    executor: { listen: "127.0.0.1:6" }
    models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
`,
);

const goldA = { tier: "gold", deployment: "gold-a", model: "m", provider: "p" };
const stalled = (end: number) => create(OutcomeSchema, { ...goldA, status: OutcomeStatus.STALLED, latencyMs: 400, atMs: BigInt(end) });
const probeOk = (end: number) =>
  create(OutcomeSchema, { ...goldA, status: OutcomeStatus.OK, ttftMs: 50, latencyMs: 80, atMs: BigInt(end), probe: true });

const twoDeployments = monitorTestConfig(
  `
  gold:
    rank: 1
    executor: { listen: "127.0.0.1:5" }
    models:
      - { id: gold-a, provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }
      - { id: gold-b, provider: p, model: n, price: { input_per_mtok: 1, output_per_mtok: 1 } }
    slo: { consecutive_failures_down: 3, min_dwell_ms: 1000 }
`,
);

describe("StatusBoard", () => {
  it("failures of one deployment while another of the tier serves are that deployment's, not the tier's", () => {
    const board = new StatusBoard(twoDeployments, { monitorId: "m1", firstSequence: 1n });
    const at = (deployment: string, status: OutcomeStatus, end: number) =>
      create(OutcomeSchema, { tier: "gold", deployment, model: "m", provider: "p", status, latencyMs: 300, atMs: BigInt(end) });
    board.record(at("gold-b", OutcomeStatus.OK, 900), 900);
    // A burst of stalls (one per waiting attempt) and errors on gold-a: gold-b still serves.
    for (let i = 0; i < 6; i++) board.record(at("gold-a", OutcomeStatus.STALLED, 1_000 + i), 1_000 + i);
    for (let i = 0; i < 20; i++) board.record(at("gold-a", OutcomeStatus.ERROR, 1_010 + i), 1_010 + i);
    expect(board.evaluate(1_040)).toEqual([]);
    const [deploymentSlis] = board.snapshot(1_040).filter((e) => e.tier === "gold");
    expect(deploymentSlis!.deployments.find((d) => d.deployment === "gold-a")!.sli!.errorRate).toBe(1);
    expect(deploymentSlis!.sli!.errorRate).toBe(0);
    // gold-b fails too: now nothing of the tier serves and the failures count.
    board.record(at("gold-b", OutcomeStatus.STALLED, 1_050), 1_050);
    board.record(at("gold-a", OutcomeStatus.STALLED, 1_051), 1_051);
    board.record(at("gold-b", OutcomeStatus.STALLED, 1_052), 1_052);
    expect(board.evaluate(1_060).map((e) => TierState[e.state])).toEqual(["DOWN"]);
  });

  it("a deployment's success counts as serving only within the tier's window", () => {
    const board = new StatusBoard(twoDeployments, { monitorId: "m1", firstSequence: 1n });
    const at = (deployment: string, status: OutcomeStatus, end: number) =>
      create(OutcomeSchema, { tier: "gold", deployment, model: "m", provider: "p", status, latencyMs: 300, atMs: BigInt(end) });
    board.record(at("gold-b", OutcomeStatus.OK, 1_000), 1_000);
    const later = 1_000 + 10_001; // the default window is 10 s
    for (let i = 0; i < 3; i++) board.record(at("gold-a", OutcomeStatus.ERROR, later + i), later + i);
    expect(board.evaluate(later + 10).map((e) => TierState[e.state])).toEqual(["DOWN"]);
  });

  it("stalls take a one-deployment tier down and show in its deployment's SLIs", () => {
    const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
    for (let i = 0; i < 3; i++) board.record(stalled(1_000 + i * 10), 1_000 + i * 10);
    const [event] = board.evaluate(1_050);
    expect(event).toMatchObject({
      tier: "gold",
      state: TierState.DOWN,
      previousState: TierState.HEALTHY,
      reason: "3 consecutive failed attempts",
    });
    expect(event!.deployments).toHaveLength(1);
    expect(event!.deployments[0]).toMatchObject({ deployment: "gold-a" });
    expect(event!.deployments[0]!.sli?.timeoutRate).toBe(1);
    expect(event!.deployments[0]!.sli?.errorRate).toBe(1);
  });

  it("says which tiers are recovering (down, or degraded since leaving down), for the prober", () => {
    const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
    expect(board.recovering("gold")).toBe(false);
    for (let i = 0; i < 3; i++) board.record(stalled(1_000 + i), 1_000 + i);
    board.evaluate(1_010);
    expect(board.recovering("gold")).toBe(true);
    expect(board.recovering("bronze")).toBe(false);
    for (const end of [2_100, 2_300, 2_500]) board.record(probeOk(end), end);
    expect(board.evaluate(2_500).map((e) => TierState[e.state])).toEqual(["DEGRADED"]);
    expect(board.recovering("gold")).toBe(true);
    expect(board.recovering("unknown")).toBe(false);
  });

  it("a tier carried over as down from the bucket is recovering", () => {
    const [down] = new StatusBoard(config, { monitorId: "m0", firstSequence: 1n }).snapshot(0);
    down!.state = TierState.DOWN;
    const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 10n, previous: [down!] });
    expect(board.recovering("gold")).toBe(true);
  });
});

import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { BurnRateTracker } from "./burn-rate.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 1
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo:
      min_samples: 10
      ttft_p95_ms: 500
      availability_target: 0.99
      latency_target: 0.9
      burn_alerts: [{ long_window_ms: 60000, short_window_ms: 5000, rate: 10 }]
`,
);
const slo = config.tiers["gold"]!.slo;
const outcome = (status: OutcomeStatus, ttftMs = 100) => create(OutcomeSchema, { tier: "gold", status, ttftMs });

describe("BurnRateTracker", () => {
  it("fires when both windows burn the availability budget faster than the rate", () => {
    const t = new BurnRateTracker(slo);
    // 15% errors = 15x a 1% budget, in both windows.
    for (let i = 0; i < 100; i++) t.record(outcome(i % 100 < 15 ? OutcomeStatus.ERROR : OutcomeStatus.OK), 50_000 + i * 40);
    expect(t.evaluate(54_000).firing).toMatch(/^error budget burning 15\.0x over 60 s/);
  });

  it("stalls burn the availability budget like errors", () => {
    const t = new BurnRateTracker(slo);
    for (let i = 0; i < 100; i++) t.record(outcome(i % 100 < 15 ? OutcomeStatus.STALLED : OutcomeStatus.OK), 50_000 + i * 40);
    expect(t.evaluate(54_000).firing).toMatch(/^error budget burning 15\.0x over 60 s/);
  });

  it("does not fire when only the short window burns (a blip after a clean hour)", () => {
    const t = new BurnRateTracker(slo);
    for (let i = 0; i < 1_000; i++) t.record(outcome(OutcomeStatus.OK), i * 50);
    for (let i = 0; i < 20; i++) t.record(outcome(i < 5 ? OutcomeStatus.ERROR : OutcomeStatus.OK), 50_000 + i * 10);
    // Short window: 5/~100 = 5x..25x; long window: 5/1020 ≈ 0.5x.
    expect(t.evaluate(50_300).firing).toBeUndefined();
  });

  it("needs min_samples in the short window", () => {
    const t = new BurnRateTracker(slo);
    for (let i = 0; i < 9; i++) t.record(outcome(OutcomeStatus.ERROR), 1_000 + i);
    expect(t.evaluate(1_100).firing).toBeUndefined();
    t.record(outcome(OutcomeStatus.ERROR), 1_050);
    expect(t.evaluate(1_100).firing).toBeDefined();
  });

  it("fires on the latency budget when too many successes are slow", () => {
    const t = new BurnRateTracker(slo);
    for (let i = 0; i < 50; i++) t.record(outcome(OutcomeStatus.OK, i % 2 === 0 ? 900 : 100), 10_000 + i * 20);
    // Half the successes are slow: 5x a 10% budget, under this alert's 10x.
    expect(t.evaluate(11_000).firing).toBeUndefined();
    const strict = new BurnRateTracker({ ...slo, burn_alerts: [{ long_window_ms: 60_000, short_window_ms: 5_000, rate: 4 }] });
    for (let i = 0; i < 50; i++) strict.record(outcome(OutcomeStatus.OK, i % 2 === 0 ? 900 : 100), 10_000 + i * 20);
    expect(strict.evaluate(11_000).firing).toMatch(/^latency budget burning 5\.0x/);
  });
});

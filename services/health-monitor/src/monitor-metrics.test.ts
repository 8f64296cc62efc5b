import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { Registry } from "@tiermesh/runtime";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { registerMonitorMetrics } from "./monitor-metrics.js";
import { StatusBoard } from "./status-board.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 1
    executor: { listen: "127.0.0.1:5" }
    models: [{ id: gold-a, provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: { window_ms: 60000 }
`,
);

describe("monitor metrics", () => {
  it("report leadership, each tier's state and the SLIs of its window at scrape time", async () => {
    const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
    const registry = new Registry();
    registerMonitorMetrics(registry, { leading: () => true, board: () => board });
    const now = Date.now();
    const outcome = (status: OutcomeStatus, ttftMs: number, costUsd: number) =>
      create(OutcomeSchema, {
        tier: "gold",
        deployment: "gold-a",
        model: "m",
        provider: "p",
        status,
        ttftMs,
        latencyMs: ttftMs * 2,
        costUsd,
        atMs: BigInt(now),
      });
    for (let i = 0; i < 6; i++) board.record(outcome(OutcomeStatus.OK, 100 + i * 100, 0.01), now);
    board.record(outcome(OutcomeStatus.ERROR, 0, 0), now);
    board.record(outcome(OutcomeStatus.RATE_LIMITED, 0, 0), now);

    const text = await registry.metrics();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}.]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1]);
    expect(value("tiermesh_monitor_leading")).toBe(1);
    expect(value('tiermesh_monitor_tier_state{tier="gold"}')).toBe(1);
    expect(value('tiermesh_monitor_tier_samples{tier="gold"}')).toBe(8);
    expect(value('tiermesh_monitor_tier_error_ratio{tier="gold"}')).toBeCloseTo(1 / 8);
    expect(value('tiermesh_monitor_tier_rate_limited_ratio{tier="gold"}')).toBeCloseTo(1 / 8);
    expect(value('tiermesh_monitor_tier_timeout_ratio{tier="gold"}')).toBe(0);
    expect(value('tiermesh_monitor_tier_ttft_seconds{tier="gold",quantile="0.5"}')).toBeCloseTo(0.3, 1);
    expect(value('tiermesh_monitor_tier_ttft_seconds{tier="gold",quantile="0.99"}')).toBeCloseTo(0.6, 1);
    expect(value('tiermesh_monitor_tier_latency_p95_seconds{tier="gold"}')).toBeCloseTo(1.2, 1);
    // 0.06 USD over a 60 s window.
    expect(value('tiermesh_monitor_tier_cost_usd_per_minute{tier="gold"}')).toBeCloseTo(0.06);
  });
});

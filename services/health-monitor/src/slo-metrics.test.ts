import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { Registry } from "@tiermesh/runtime";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { registerSloMetrics } from "./slo-metrics.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 2
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: { availability_target: 0.999, latency_target: 0.9, ttft_p95_ms: 500 }
  bronze:
    rank: 1
    executor: { listen: "127.0.0.1:6" }
    models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
`,
);

async function scrape(registry: Registry): Promise<(series: string) => number | undefined> {
  const text = await registry.metrics();
  return (series) => {
    const match = new RegExp(`^${series.replace(/[{}.]/g, "\\$&")} (\\S+)$`, "m").exec(text);
    return match ? Number(match[1]) : undefined;
  };
}

describe("SLO metrics", () => {
  it("export each tier's objectives and TTFT threshold from the config, defaults included", async () => {
    const registry = new Registry();
    registerSloMetrics(registry, config);
    const value = await scrape(registry);
    expect(value('tiermesh_monitor_slo_objective{tier="gold",sli="availability"}')).toBe(0.999);
    expect(value('tiermesh_monitor_slo_objective{tier="gold",sli="latency"}')).toBe(0.9);
    expect(value('tiermesh_monitor_slo_ttft_threshold_seconds{tier="gold"}')).toBe(0.5);
    expect(value('tiermesh_monitor_slo_objective{tier="bronze",sli="availability"}')).toBe(config.tiers["bronze"]!.slo.availability_target);
    expect(value('tiermesh_monitor_slo_objective{tier="bronze",sli="latency"}')).toBe(config.tiers["bronze"]!.slo.latency_target);
    // Before any outcome, every counter is there at 0.
    for (const tier of ["gold", "bronze"]) {
      for (const sli of ["availability", "latency"]) {
        expect(value(`tiermesh_monitor_sli_events_total{tier="${tier}",sli="${sli}"}`)).toBe(0);
        expect(value(`tiermesh_monitor_sli_bad_events_total{tier="${tier}",sli="${sli}"}`)).toBe(0);
      }
    }
  });

  it("count users' attempts as the monitor's burn rate judges them, probes and 429s apart", async () => {
    const registry = new Registry();
    const slo = registerSloMetrics(registry, config);
    const outcome = (status: OutcomeStatus, ttftMs = 0, probe = false, tier = "gold") =>
      create(OutcomeSchema, { tier, status, ttftMs, probe });
    slo.record(outcome(OutcomeStatus.OK, 100));
    slo.record(outcome(OutcomeStatus.OK, 100));
    slo.record(outcome(OutcomeStatus.OK, 900)); // slower than ttft_p95_ms: bad for latency
    slo.record(outcome(OutcomeStatus.ERROR));
    slo.record(outcome(OutcomeStatus.TIMEOUT));
    slo.record(outcome(OutcomeStatus.STALLED));
    slo.record(outcome(OutcomeStatus.RATE_LIMITED));
    slo.record(outcome(OutcomeStatus.CLIENT_ERROR));
    slo.record(outcome(OutcomeStatus.CANCELLED));
    slo.record(outcome(OutcomeStatus.ERROR, 0, true));
    slo.record(outcome(OutcomeStatus.OK, 5_000, true));
    slo.record(outcome(OutcomeStatus.ERROR, 0, false, "platinum"));
    const value = await scrape(registry);
    expect(value('tiermesh_monitor_sli_events_total{tier="gold",sli="availability"}')).toBe(6);
    expect(value('tiermesh_monitor_sli_bad_events_total{tier="gold",sli="availability"}')).toBe(3);
    expect(value('tiermesh_monitor_sli_events_total{tier="gold",sli="latency"}')).toBe(3);
    expect(value('tiermesh_monitor_sli_bad_events_total{tier="gold",sli="latency"}')).toBe(1);
    expect(value('tiermesh_monitor_sli_events_total{tier="bronze",sli="availability"}')).toBe(0);
    expect(value('tiermesh_monitor_sli_events_total{tier="platinum",sli="availability"}')).toBeUndefined();
  });
});

import type { TierSli } from "@tiermesh/proto";
import { Gauge, type Registry } from "@tiermesh/runtime";
import type { StatusBoard } from "./status-board.js";

export interface MonitorMetricsSources {
  /** True while this replica holds the lease and publishes. */
  leading: () => boolean;
  /** The board in force (it is replaced when the monitor seeds it from the bucket). */
  board: () => StatusBoard;
}

/** A per-tier gauge read from the tier's SLIs over its window at scrape time. */
interface SliGauge {
  name: string;
  help: string;
  value: (sli: TierSli) => number;
}

const sliGauges: SliGauge[] = [
  { name: "tiermesh_monitor_tier_samples", help: "Outcomes (requests and probes) in the tier's SLO window", value: (s) => s.sampleCount },
  {
    name: "tiermesh_monitor_tier_error_ratio",
    help: "Share of the tier's outcomes in its window that failed (errors and timeouts; 429s and client errors apart)",
    value: (s) => s.errorRate,
  },
  {
    name: "tiermesh_monitor_tier_timeout_ratio",
    help: "Share of the tier's outcomes in its window that timed out",
    value: (s) => s.timeoutRate,
  },
  {
    name: "tiermesh_monitor_tier_rate_limited_ratio",
    help: "Share of the tier's outcomes in its window that its providers rate limited (429)",
    value: (s) => s.rateLimitedRate,
  },
  {
    name: "tiermesh_monitor_tier_latency_p95_seconds",
    help: "95th percentile of successful attempts' total time in the tier's window (HDR histogram)",
    value: (s) => s.latencyP95Ms / 1_000,
  },
  {
    name: "tiermesh_monitor_tier_cost_usd_per_minute",
    help: "What the tier's outcomes in its window cost, in US dollars per minute",
    value: (s) => s.costUsdPerMinute,
  },
];

/**
 * The monitor's Prometheus metrics besides probes: leadership, each tier's state and the SLIs
 * the state machine reads (the same numbers a TierStatusEvent carries). Every replica reports
 * its own view; the leader's is the one published.
 */
export function registerMonitorMetrics(registry: Registry, sources: MonitorMetricsSources): void {
  new Gauge({
    name: "tiermesh_monitor_leading",
    help: "1 while this replica holds the lease and publishes tier status",
    registers: [registry],
    collect() {
      this.set(sources.leading() ? 1 : 0);
    },
  });
  new Gauge({
    name: "tiermesh_monitor_tier_state",
    help: "Tier state as this replica sees it (1 healthy, 2 degraded, 3 down)",
    labelNames: ["tier"],
    registers: [registry],
    collect() {
      for (const e of sources.board().snapshotStates()) this.set({ tier: e.tier }, e.state);
    },
  });
  for (const g of sliGauges) {
    new Gauge({
      name: g.name,
      help: g.help,
      labelNames: ["tier"],
      registers: [registry],
      collect() {
        for (const { tier, sli } of sources.board().tierSlis(Date.now())) this.set({ tier }, g.value(sli));
      },
    });
  }
  new Gauge({
    name: "tiermesh_monitor_tier_ttft_seconds",
    help: "Time to first token of successful attempts in the tier's window, by quantile (HDR histogram)",
    labelNames: ["tier", "quantile"],
    registers: [registry],
    collect() {
      for (const { tier, sli } of sources.board().tierSlis(Date.now())) {
        this.set({ tier, quantile: "0.5" }, sli.ttftP50Ms / 1_000);
        this.set({ tier, quantile: "0.95" }, sli.ttftP95Ms / 1_000);
        this.set({ tier, quantile: "0.99" }, sli.ttftP99Ms / 1_000);
      }
    },
  });
}

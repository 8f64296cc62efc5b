import type { Config } from "@tiermesh/config";
import type { Outcome } from "@tiermesh/proto";
import { Counter, Gauge, type Registry } from "@tiermesh/runtime";
import { sloEventOf } from "./slo-event.js";

export interface SloMetrics {
  /** Counts a users' attempt toward its tier's SLIs; probes and unknown tiers are left out. */
  record(o: Outcome): void;
}

const SLIS = ["availability", "latency"] as const;

/**
 * Each tier's SLOs as the config states them, and counters of the events its SLIs are made
 * of, so Prometheus computes burn rates over its own windows against the objectives the
 * monitor judges by (deploy/prometheus/tiermesh-alerts.yaml). Only users' attempts count:
 * canary probes are the monitor's own checks, many of them of a tier known to be down.
 */
export function registerSloMetrics(registry: Registry, config: Config): SloMetrics {
  const objective = new Gauge({
    name: "tiermesh_monitor_slo_objective",
    help: "The tier's SLO objective by SLI: tiers.<tier>.slo.availability_target and latency_target (error budget = 1 - objective)",
    labelNames: ["tier", "sli"],
    registers: [registry],
  });
  const threshold = new Gauge({
    name: "tiermesh_monitor_slo_ttft_threshold_seconds",
    help: "Time to first token above which a successful attempt is bad for the latency SLI (tiers.<tier>.slo.ttft_p95_ms)",
    labelNames: ["tier"],
    registers: [registry],
  });
  const events = new Counter({
    name: "tiermesh_monitor_sli_events_total",
    help: "Users' attempts counted by the SLI: availability, every attempt but client errors, cancellations and 429s; latency, successes",
    labelNames: ["tier", "sli"],
    registers: [registry],
  });
  const bad = new Counter({
    name: "tiermesh_monitor_sli_bad_events_total",
    help: "Users' attempts bad for the SLI: availability, errors, timeouts and stalls; latency, successes slower than the TTFT threshold",
    labelNames: ["tier", "sli"],
    registers: [registry],
  });
  for (const [tier, t] of Object.entries(config.tiers)) {
    objective.set({ tier, sli: "availability" }, t.slo.availability_target);
    objective.set({ tier, sli: "latency" }, t.slo.latency_target);
    threshold.set({ tier }, t.slo.ttft_p95_ms / 1_000);
    // Every series from the start, so a burn rate reads 0 rather than nothing before the first failure.
    for (const sli of SLIS) {
      events.inc({ tier, sli }, 0);
      bad.inc({ tier, sli }, 0);
    }
  }
  return {
    record(o) {
      const tier = config.tiers[o.tier];
      if (o.probe || !tier) return;
      const event = sloEventOf(o, tier.slo);
      if (!event) return;
      events.inc({ tier: o.tier, sli: "availability" });
      if (!event.ok) bad.inc({ tier: o.tier, sli: "availability" });
      if (!event.ok) return;
      events.inc({ tier: o.tier, sli: "latency" });
      if (event.slow) bad.inc({ tier: o.tier, sli: "latency" });
    },
  };
}

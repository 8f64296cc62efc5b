import { Counter, createMetricsRegistry, Gauge, type Registry } from "@tiermesh/runtime";
import type { DeploymentState } from "./deployment-state.js";
import type { TierRunner } from "./tier-runner.js";

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** The executor's Prometheus metrics: bulkhead use and each deployment's breaker, stalls, load and speed. */
export function createExecutorMetrics(tier: string, runner: () => TierRunner): Registry {
  const registry = createMetricsRegistry("tier-executor");
  registry.setDefaultLabels({ service: "tier-executor", tier });
  new Gauge({
    name: "tiermesh_executor_in_flight",
    help: "Requests holding a bulkhead slot",
    registers: [registry],
    collect() {
      this.set(runner().load.inFlight);
    },
  });
  new Gauge({
    name: "tiermesh_executor_queued",
    help: "Requests waiting for a bulkhead slot",
    registers: [registry],
    collect() {
      this.set(runner().load.queued);
    },
  });
  new Gauge({
    name: "tiermesh_executor_breaker_state",
    help: "Circuit breaker per deployment: 0 closed, 1 half-open, 2 open",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) this.set({ deployment: d.deployment.id }, BREAKER_VALUE[d.breaker.state]);
    },
  });
  new Gauge({
    name: "tiermesh_executor_deployment_ttft_ms",
    help: "Recent time to first token per deployment (EWMA)",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) this.set({ deployment: d.deployment.id }, d.ttft.value);
    },
  });
  deploymentCounter(registry, runner, {
    name: "tiermesh_executor_stalls_total",
    help: "Stalls detected per deployment (no first token within the stall threshold; breaker opened, waiting attempts moved on)",
    total: (d) => d.stall.stalls,
  });
  deploymentCounter(registry, runner, {
    name: "tiermesh_executor_stream_stalls_total",
    help: "Streams cut per deployment because they went silent between tokens for longer than the inter-token stall threshold",
    total: (d) => d.pace.stalls,
  });
  new Gauge({
    name: "tiermesh_executor_inter_token_stall_threshold_ms",
    help: "Current inter-token stall threshold per deployment: clamp(multiple x recent p99 inter-token gap, min_ms, max_ms)",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) this.set({ deployment: d.deployment.id }, d.pace.thresholdMs);
    },
  });
  deploymentCounter(registry, runner, {
    name: "tiermesh_executor_malformed_chunks_total",
    help: "Malformed stream chunks skipped per deployment (the answer went on without them)",
    total: (d) => d.skippedChunks,
  });
  new Gauge({
    name: "tiermesh_executor_deployment_stalled",
    help: "1 while a deployment is stalled (a stall was detected and no first token came since), else 0",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) this.set({ deployment: d.deployment.id }, d.stall.stalled ? 1 : 0);
    },
  });
  new Gauge({
    name: "tiermesh_executor_stall_threshold_ms",
    help: "Current stall threshold per deployment: clamp(ttft_multiple x recent p99 TTFT, min_ms, max_ms)",
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) this.set({ deployment: d.deployment.id }, d.stall.thresholdMs);
    },
  });
  const probeCounters = [
    {
      name: "tiermesh_executor_probes_total",
      help: "Canary probes sent to the provider per deployment (each a provider call)",
      of: (d: DeploymentState) => d.probes.sent,
    },
    {
      name: "tiermesh_executor_probe_cost_usd_total",
      help: "What canary probes cost per deployment, in US dollars",
      of: (d: DeploymentState) => d.probes.costUsd,
    },
    {
      name: "tiermesh_executor_probes_refused_total",
      help: "Canary probes refused without a provider call per deployment: it was cooling down after its provider asked to wait (Retry-After)",
      of: (d: DeploymentState) => d.probes.refused,
    },
  ];
  for (const { name, help, of } of probeCounters) {
    const counted = new Map<string, number>();
    new Counter({
      name,
      help,
      labelNames: ["deployment"],
      registers: [registry],
      collect() {
        for (const d of runner().deployments) {
          const id = d.deployment.id;
          const delta = of(d) - (counted.get(id) ?? 0);
          if (delta >= 0) this.inc({ deployment: id }, delta);
          counted.set(id, of(d));
        }
      },
    });
  }
  return registry;
}

/** A counter per deployment fed from a running total the deployment keeps. */
function deploymentCounter(
  registry: Registry,
  runner: () => TierRunner,
  o: { name: string; help: string; total: (d: DeploymentState) => number },
): void {
  const counted = new Map<string, number>();
  new Counter({
    name: o.name,
    help: o.help,
    labelNames: ["deployment"],
    registers: [registry],
    collect() {
      for (const d of runner().deployments) {
        const id = d.deployment.id;
        const total = o.total(d);
        const delta = total - (counted.get(id) ?? 0);
        // Zero too, so every deployment has a series from the first scrape.
        if (delta >= 0) this.inc({ deployment: id }, delta);
        counted.set(id, total);
      }
    },
  });
}

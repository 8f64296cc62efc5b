import { createMetricsRegistry, Gauge, type Registry } from "@tiermesh/runtime";
import type { TierRunner } from "./tier-runner.js";

const BREAKER_VALUE = { closed: 0, half_open: 1, open: 2 } as const;

/** The executor's Prometheus metrics: bulkhead use and each deployment's breaker, load and speed. */
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
  return registry;
}

import { OutcomeStatus } from "@tiermesh/proto";
import { Counter, type Registry } from "@tiermesh/runtime";

/** Why a due probe was not sent: real traffic showed the deployment's health, or its provider asked to wait. */
export type ProbeSkip = "traffic" | "retry_after";

/** What the prober tells `/metrics`: probes sent (each a billed provider call) and their cost, and probes saved. */
export interface ProbeMetrics {
  sent(tier: string, deployment: string, status: OutcomeStatus, costUsd: number): void;
  skipped(tier: string, deployment: string, reason: ProbeSkip): void;
}

/** Probe counters per deployment on the monitor's registry. */
export function registerProbeMetrics(registry: Registry): ProbeMetrics {
  const sent = new Counter({
    name: "tiermesh_monitor_probes_total",
    help: "Canary probes sent per deployment (each a provider call), by outcome",
    labelNames: ["tier", "deployment", "outcome"],
    registers: [registry],
  });
  const cost = new Counter({
    name: "tiermesh_monitor_probe_cost_usd_total",
    help: "What canary probes cost per deployment, in US dollars (the executor's cost accounting)",
    labelNames: ["tier", "deployment"],
    registers: [registry],
  });
  const skipped = new Counter({
    name: "tiermesh_monitor_probes_skipped_total",
    help: "Due canary probes not sent per deployment: traffic = real traffic showed its health within the interval, retry_after = its provider asked to wait",
    labelNames: ["tier", "deployment", "reason"],
    registers: [registry],
  });
  return {
    sent(tier, deployment, status, costUsd) {
      const outcome = (OutcomeStatus[status] ?? "unspecified").toLowerCase();
      sent.inc({ tier, deployment, outcome });
      // Zero too, so every probed deployment has a cost series.
      cost.inc({ tier, deployment }, costUsd);
    },
    skipped(tier, deployment, reason) {
      skipped.inc({ tier, deployment, reason });
    },
  };
}

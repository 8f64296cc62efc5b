import { type BacklogSampler, registerBacklogMetrics } from "@tiermesh/jobs";
import { Counter, Gauge, type Registry } from "@tiermesh/runtime";
import type { JobTallies, JobWorker } from "./job-worker.js";

const OUTCOMES: (keyof JobTallies)[] = ["succeeded", "failed", "expired", "cancelled", "deadLettered", "retried"];
const label = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The executor's job metrics: jobs running here, jobs finished here by outcome (throughput), and the tier's backlog. */
export function registerExecutorJobMetrics(registry: Registry, worker: () => JobWorker | undefined, sampler: BacklogSampler): void {
  registerBacklogMetrics(registry, sampler);
  new Gauge({
    name: "tiermesh_executor_jobs_running",
    help: "Asynchronous jobs this executor is serving",
    registers: [registry],
    collect() {
      this.set(worker()?.inFlight ?? 0);
    },
  });
  const counted = new Map<string, number>();
  new Counter({
    name: "tiermesh_executor_jobs_total",
    help: "Asynchronous jobs this executor finished or handed back, by outcome (succeeded, failed, expired, cancelled, dead_lettered, retried)",
    labelNames: ["outcome"],
    registers: [registry],
    collect() {
      const tallies = worker()?.tallies;
      for (const k of OUTCOMES) {
        const total = tallies?.[k] ?? 0;
        const delta = total - (counted.get(k) ?? 0);
        if (delta >= 0) this.inc({ outcome: label(k) }, delta);
        counted.set(k, total);
      }
    },
  });
}

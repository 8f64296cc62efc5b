import { Gauge, type Registry } from "@tiermesh/runtime";
import type { BacklogSampler } from "./backlog-sampler.js";

/** Gauges of each async tier's backlog, read from the sampler at scrape time. */
export function registerBacklogMetrics(registry: Registry, sampler: BacklogSampler): void {
  const gauge = (name: string, help: string, value: (tier: string) => number | undefined) =>
    new Gauge({
      name,
      help,
      labelNames: ["tier"],
      registers: [registry],
      collect() {
        this.reset();
        for (const tier of sampler.tiers) {
          const v = value(tier);
          if (v !== undefined) this.set({ tier }, v);
        }
      },
    });
  gauge("tiermesh_jobs_queued", "Asynchronous jobs waiting for an executor, per tier", (t) => sampler.of(t)?.queued);
  gauge(
    "tiermesh_jobs_in_progress",
    "Asynchronous jobs delivered to an executor and not yet finished, per tier",
    (t) => sampler.of(t)?.inProgress,
  );
  gauge(
    "tiermesh_jobs_oldest_queued_age_seconds",
    "Age of the oldest asynchronous job still queued (waiting or in progress), per tier; 0 when none is",
    (t) => {
      const b = sampler.of(t);
      return b && Number(b.oldestQueuedAgeMs) / 1_000;
    },
  );
  gauge("tiermesh_jobs_dead_lettered", "Asynchronous jobs kept on the tier's dead-letter subject", (t) => sampler.of(t)?.deadLettered);
}

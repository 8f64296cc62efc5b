import { type BacklogSampler, registerBacklogMetrics } from "@tiermesh/jobs";
import { Counter, type Registry } from "@tiermesh/runtime";

/** The router's job metrics: submissions per tier (new or duplicate), and each async tier's backlog. */
export function createRouterJobMetrics(registry: Registry, sampler: BacklogSampler): { submitted(tier: string, duplicate: boolean): void } {
  registerBacklogMetrics(registry, sampler);
  const submitted = new Counter({
    name: "tiermesh_router_jobs_submitted_total",
    help: 'Asynchronous jobs submitted (Job RPC and Batch API), per tier; duplicate="true" for a repeated idempotency key',
    labelNames: ["tier", "duplicate"],
    registers: [registry],
  });
  for (const tier of sampler.tiers) for (const duplicate of ["true", "false"]) submitted.inc({ tier, duplicate }, 0);
  return { submitted: (tier, duplicate) => submitted.inc({ tier, duplicate: String(duplicate) }) };
}

import { type BacklogSampler, registerBacklogMetrics } from "@tiermesh/jobs";
import { Counter, type Registry } from "@tiermesh/runtime";

export interface RouterJobMetrics {
  submitted(tier: string, duplicate: boolean): void;
  /** A batch left validating by a router that stopped, resumed by this one. */
  batchResumed(by: "request" | "sweep"): void;
}

/** The router's job metrics: submissions per tier (new or duplicate), batches resumed, and each async tier's backlog. */
export function createRouterJobMetrics(registry: Registry, sampler: BacklogSampler): RouterJobMetrics {
  registerBacklogMetrics(registry, sampler);
  const submitted = new Counter({
    name: "tiermesh_router_jobs_submitted_total",
    help: 'Asynchronous jobs submitted (Job RPC and Batch API), per tier; duplicate="true" for a repeated idempotency key',
    labelNames: ["tier", "duplicate"],
    registers: [registry],
  });
  for (const tier of sampler.tiers) for (const duplicate of ["true", "false"]) submitted.inc({ tier, duplicate }, 0);
  const resumed = new Counter({
    name: "tiermesh_router_batches_resumed_total",
    help: 'Batch API batches left validating by a router that stopped and resumed by this one; by="sweep" (background) or "request" (a caller asked)',
    labelNames: ["by"],
    registers: [registry],
  });
  for (const by of ["sweep", "request"]) resumed.inc({ by }, 0);
  return {
    submitted: (tier, duplicate) => submitted.inc({ tier, duplicate: String(duplicate) }),
    batchResumed: (by) => resumed.inc({ by }),
  };
}

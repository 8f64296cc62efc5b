import type { AsyncConfig } from "@tiermesh/config";

export interface JobLoad {
  /** Requests holding a bulkhead slot, jobs included. */
  inFlight: number;
  /** Requests waiting for a slot, jobs included. */
  queued: number;
  /** Jobs this executor is serving (holding or waiting for a slot, or finishing). */
  jobs: number;
}

/**
 * Whether the executor may take one more job: fewer than `max_concurrency` jobs run, and the
 * interactive requests in the bulkhead (holding or waiting for a slot) are fewer than
 * `interactive_below` of its capacity. Jobs take what interactive traffic leaves over.
 */
export function hasRoomForJob(
  load: JobLoad,
  config: Pick<AsyncConfig, "max_concurrency" | "interactive_below">,
  bulkheadCapacity: number,
): boolean {
  if (load.jobs >= config.max_concurrency) return false;
  const interactive = Math.max(0, load.inFlight + load.queued - load.jobs);
  return interactive < config.interactive_below * bulkheadCapacity;
}

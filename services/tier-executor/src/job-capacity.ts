import type { AsyncConfig } from "@tiermesh/config";
import type { LoopLoad } from "./event-loop-load.js";

export interface JobLoad {
  /** Requests holding a bulkhead slot, jobs included. */
  inFlight: number;
  /** Requests waiting for a slot, jobs included. */
  queued: number;
  /** Jobs this executor is serving (holding or waiting for a slot, or finishing). */
  jobs: number;
}

/**
 * Whether the executor may take one more job: fewer than `max_concurrency` jobs run, the
 * interactive requests in the bulkhead (holding or waiting for a slot) are fewer than
 * `interactive_below` of its capacity, and the event loop (when `loop` is known) is neither
 * busier than `event_loop_utilization_below` nor lagging by `event_loop_delay_below_ms` or
 * more. Jobs take what interactive traffic leaves over, of slots and of CPU.
 */
export function hasRoomForJob(
  load: JobLoad,
  config: Pick<AsyncConfig, "max_concurrency" | "interactive_below"> &
    Partial<Pick<AsyncConfig, "event_loop_utilization_below" | "event_loop_delay_below_ms">>,
  bulkheadCapacity: number,
  loop?: LoopLoad,
): boolean {
  if (load.jobs >= config.max_concurrency) return false;
  const interactive = Math.max(0, load.inFlight + load.queued - load.jobs);
  if (interactive >= config.interactive_below * bulkheadCapacity) return false;
  if (!loop) return true;
  const busy = config.event_loop_utilization_below ?? 1;
  if (busy < 1 && loop.utilization >= busy) return false;
  const lag = config.event_loop_delay_below_ms ?? 0;
  return lag === 0 || loop.delayP99Ms < lag;
}

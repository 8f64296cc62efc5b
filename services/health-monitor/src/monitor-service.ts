import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { GetStatusResponseSchema, type HealthMonitorService, type TierStatusEvent } from "@tiermesh/proto";

export interface MonitorServiceDeps {
  snapshot: () => TierStatusEvent[];
  /** Registers a listener for new events; returns the unregister function. */
  subscribe: (listener: (event: TierStatusEvent) => void) => () => void;
  shutdownSignal: AbortSignal;
}

export function createHealthMonitorService(deps: MonitorServiceDeps): ServiceImpl<typeof HealthMonitorService> {
  return {
    getStatus() {
      return create(GetStatusResponseSchema, { tiers: deps.snapshot() });
    },
    async *watchStatus(_req, ctx) {
      const queue: TierStatusEvent[] = [...deps.snapshot()];
      let wake: (() => void) | undefined;
      const unsubscribe = deps.subscribe((event) => {
        queue.push(event);
        wake?.();
      });
      const stop = () => wake?.();
      ctx.signal.addEventListener("abort", stop);
      deps.shutdownSignal.addEventListener("abort", stop);
      try {
        while (!ctx.signal.aborted && !deps.shutdownSignal.aborted) {
          const event = queue.shift();
          if (event) {
            yield { event };
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      } finally {
        unsubscribe();
        ctx.signal.removeEventListener("abort", stop);
        deps.shutdownSignal.removeEventListener("abort", stop);
      }
    },
  };
}

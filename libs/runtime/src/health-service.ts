import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  type Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
  type HealthCheckResponse,
} from "@tiermesh/proto";

export { ServingStatus };

/**
 * The health service name for liveness probes: SERVING whenever the process answers at all,
 * whatever the other names say. A service that is up but cannot serve yet (a router without
 * the classifier's policy, a server draining on SIGTERM) reports NOT_SERVING on "" and is
 * taken out of its Service, but is not broken, and a liveness probe must not restart it. A
 * process whose event loop is stuck does not answer, and fails this check by its deadline.
 */
export const LIVENESS_SERVICE = "tiermesh.liveness";

/**
 * Serving status per service name for the standard grpc.health.v1 protocol.
 * The empty name stands for the whole server; LIVENESS_SERVICE is always SERVING.
 */
export class HealthStatus {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly watchers = new Set<() => void>();

  constructor(services: readonly string[]) {
    for (const name of ["", ...services]) this.statuses.set(name, ServingStatus.NOT_SERVING);
  }

  get(service: string): ServingStatus | undefined {
    if (service === LIVENESS_SERVICE) return ServingStatus.SERVING;
    return this.statuses.get(service);
  }

  /** Sets every registered service at once (never LIVENESS_SERVICE). */
  setAll(status: ServingStatus): void {
    for (const name of this.statuses.keys()) this.statuses.set(name, status);
    for (const notify of this.watchers) notify();
  }

  /** @internal */
  subscribe(notify: () => void): () => void {
    this.watchers.add(notify);
    return () => this.watchers.delete(notify);
  }
}

export function createHealthService(status: HealthStatus): ServiceImpl<typeof Health> {
  const response = (s: ServingStatus): HealthCheckResponse => create(HealthCheckResponseSchema, { status: s });
  return {
    check(req) {
      const s = status.get(req.service);
      if (s === undefined) throw new ConnectError(`unknown service "${req.service}"`, Code.NotFound);
      return response(s);
    },
    async *watch(req, ctx) {
      let wake: (() => void) | undefined;
      const unsubscribe = status.subscribe(() => wake?.());
      const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
      try {
        let last: ServingStatus | undefined;
        while (!ctx.signal.aborted) {
          const s = status.get(req.service) ?? ServingStatus.SERVICE_UNKNOWN;
          if (s !== last) {
            last = s;
            yield response(s);
            // Look again before waiting: the status may have changed while the caller read.
            continue;
          }
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), aborted]);
        }
      } finally {
        unsubscribe();
      }
    },
  };
}

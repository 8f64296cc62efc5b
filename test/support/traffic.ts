import { grpc, routerClient, unary } from "./grpc-clients.js";

export interface Served {
  startedAt: number;
  endedAt: number;
  user: string;
  requested: string;
  served: string;
  reasons: string[];
}

export interface Failed {
  startedAt: number;
  endedAt: number;
  user: string;
  error: string;
}

export interface TrafficOptions {
  workers?: number;
  pauseMs?: number;
  /** Distinct end users the calls are spread over. */
  users?: number;
  /** Every n-th call carries no user id (an internal service calling the Router RPC); 0 = never. */
  anonymousEvery?: number;
  /** API key to send; none means the anonymous tenant. */
  apiKey?: string;
  urgency?: string;
}

/**
 * Steady traffic at the router from concurrent callers (each waits `pauseMs` between
 * calls), spread over `users` end users, until `stop` is called.
 */
export function steadyTraffic(routerUrl: string, options: TrafficOptions = {}) {
  const { workers = 4, pauseMs = 10, users = 40 } = options;
  const client = routerClient(routerUrl);
  const served: Served[] = [];
  const failed: Failed[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const startedAt = Date.now();
      const i = n++;
      const user = options.anonymousEvery && i % options.anonymousEvery === 0 ? "" : `user-${i % users}`;
      const metadata = new grpc.Metadata();
      if (options.apiKey) metadata.set("authorization", `Bearer ${options.apiKey}`);
      try {
        const res = await unary<{ routing: { requested_tier: string; served_tier: string; reasons: string[] } }>(
          client,
          "Complete",
          { input: { messages: [{ role: "user", content: "steady traffic" }], max_tokens: 8, user, urgency: options.urgency ?? "" } },
          metadata,
        );
        served.push({
          startedAt,
          endedAt: Date.now(),
          user,
          requested: res.routing.requested_tier,
          served: res.routing.served_tier,
          reasons: res.routing.reasons,
        });
      } catch (err) {
        failed.push({ startedAt, endedAt: Date.now(), user, error: String((err as Error).message) });
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    served,
    failed,
    async stop() {
      running = false;
      await Promise.all(loops);
      client.close();
    },
  };
}

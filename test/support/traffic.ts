import { routerClient, unary } from "./grpc-clients.js";

export interface Served {
  startedAt: number;
  endedAt: number;
  requested: string;
  served: string;
  reasons: string[];
}

export interface Failed {
  startedAt: number;
  endedAt: number;
  error: string;
}

/**
 * Steady traffic at the router from `workers` concurrent callers (each waits `pauseMs`
 * between calls) until `stop` is called.
 */
export function steadyTraffic(routerUrl: string, workers = 4, pauseMs = 10) {
  const client = routerClient(routerUrl);
  const served: Served[] = [];
  const failed: Failed[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      const startedAt = Date.now();
      try {
        const res = await unary<{ routing: { requested_tier: string; served_tier: string; reasons: string[] } }>(client, "Complete", {
          input: { messages: [{ role: "user", content: "steady traffic" }], max_tokens: 8 },
        });
        served.push({ startedAt, endedAt: Date.now(), requested: res.routing.requested_tier, served: res.routing.served_tier, reasons: res.routing.reasons });
      } catch (err) {
        failed.push({ startedAt, endedAt: Date.now(), error: String((err as Error).message) });
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

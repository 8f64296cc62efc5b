import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@tiermesh/proto";
import { createMeshTransport } from "./rpc-client.js";

/** Resolves when the gRPC health check at `baseUrl` answers SERVING; rejects after `timeoutMs`. */
export async function waitForServing(baseUrl: string, timeoutMs: number, service = ""): Promise<void> {
  const client = createClient(Health, createMeshTransport(baseUrl));
  const until = Date.now() + timeoutMs;
  let last = "no answer";
  while (Date.now() < until) {
    try {
      const res = await client.check({ service }, { timeoutMs: 1_000 });
      if (res.status === ServingStatus.SERVING) return;
      last = ServingStatus[res.status] ?? String(res.status);
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${baseUrl} not SERVING after ${timeoutMs} ms (${last})`);
}

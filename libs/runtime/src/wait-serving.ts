import { createClient } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@tiermesh/proto";
import { createConnectTransport } from "@connectrpc/connect-node";

/**
 * Resolves when the gRPC health check at `baseUrl` answers SERVING; rejects after `timeoutMs`.
 * It asks with Connect over HTTP/1.1, which every tiermesh service answers (on HTTP/2 the tier
 * executor speaks gRPC only), with no reconnect backoff between polls.
 */
export async function waitForServing(baseUrl: string, timeoutMs: number, service = ""): Promise<void> {
  const client = createClient(Health, createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }));
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

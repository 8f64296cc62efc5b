import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { JobService, JobState, type Job } from "@tiermesh/proto";

/** A Job RPC client of the router (Connect protocol, binary). */
export function jobClient(routerUrl: string): Client<typeof JobService> {
  return createClient(JobService, createConnectTransport({ baseUrl: routerUrl, httpVersion: "1.1", useBinaryFormat: true }));
}

/** A one-message job with the given idempotency key. */
export const jobSpec = (key: string, content = `say something about ${key}`) => ({
  idempotencyKey: key,
  input: { messages: [{ role: "user", content }] },
});

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until a job is in `state`. */
export function jobIn(client: Client<typeof JobService>, id: string, state: JobState, timeoutMs = 20_000): Promise<Job> {
  return until(
    `job ${id} ${JobState[state]}`,
    async () => {
      const { job } = await client.getJob({ id });
      return job?.state === state ? job : undefined;
    },
    timeoutMs,
  );
}

/** Waits until the router's Job RPC answers: a router is SERVING before it reaches the job store, which it opens once NATS answers. */
export function jobStoreReady(client: Client<typeof JobService>, timeoutMs = 20_000): Promise<true> {
  return until(
    "the router's job store",
    async () => {
      await client.listJobs({ pageSize: 1 });
      return true as const;
    },
    timeoutMs,
  );
}

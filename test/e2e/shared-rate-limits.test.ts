import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { hashApiKey, parseConfig, type Config } from "@tiermesh/config";
import { encodePolicy, policyDocument } from "@tiermesh/policy";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import {
  ClassifierService,
  ERROR_REASON_HEADER,
  ExecuteResponseSchema,
  RATE_LIMIT_HEADER,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
  RouterService,
  TENANT_RATE_LIMITED,
  TierExecutorService,
  WatchPolicyResponseSchema,
} from "@tiermesh/proto";
import { createRouterServer, type RouterServer } from "@tiermesh/router";
import { createLogger } from "@tiermesh/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const RPM = 400;
const TPM = 20_000;
const keys = { rpm: "tm_test_rpm", tpm: "tm_test_tpm", outage: "tm_test_outage", connect: "tm_test_connect" };

const configFor = (natsUrl: string): Config =>
  parseConfig(
    `
log: { level: silent }
nats: { url: "${natsUrl}", subject_prefix: ratetest }
router: { listen: "127.0.0.1:0", rate_limit_sync_ms: 100 }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 1, prompt: { max_tokens_cap: 100000 }, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans:
  metered: { default_tier: gold, max_tier: gold, limits: { requests_per_minute: ${RPM} } }
  tokens: { default_tier: gold, max_tier: gold, limits: { tokens_per_minute: ${TPM} } }
tenants:
  rpm: { plan: metered, api_key_sha256: ["${hashApiKey(keys.rpm)}"] }
  tpm: { plan: tokens, api_key_sha256: ["${hashApiKey(keys.tpm)}"] }
  outage: { plan: metered, api_key_sha256: ["${hashApiKey(keys.outage)}"], limits: { requests_per_minute: 100 } }
  connect: { plan: metered, api_key_sha256: ["${hashApiKey(keys.connect)}"], limits: { requests_per_minute: 2 } }
`,
    "rate-test.yaml",
    {},
  );

/** A classifier that publishes one policy and keeps the watch open. */
function classifierTransport(config: Config) {
  const { json, version } = encodePolicy(policyDocument(config));
  return createRouterTransport(({ service }) =>
    service(ClassifierService, {
      classify() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
      async *watchPolicy(_req, ctx) {
        yield create(WatchPolicyResponseSchema, { version, policyJson: json, loadedAtMs: 1n });
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
      },
    }),
  );
}

/** An executor that answers at once. */
const executorTransport = () =>
  createRouterTransport(({ service }) =>
    service(TierExecutorService, {
      execute: (req) => create(ExecuteResponseSchema, { tier: req.tier, model: "g", content: "ok", finishReason: "stop", attempts: 1 }),
      async *executeStream() {
        throw new ConnectError("not used", Code.Unimplemented);
      },
    }),
  );

async function waitFor(check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

interface Replica {
  server: RouterServer;
  url: string;
}

async function post(replica: Replica, key: string, maxTokens?: number): Promise<Response> {
  return fetch(`${replica.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({
      model: "auto",
      messages: [{ role: "user", content: "Hello" }],
      ...(maxTokens ? { max_tokens: maxTokens } : {}),
    }),
  });
}

/**
 * Sends `total` requests, alternating between the replicas, `concurrency` at a time, `gapMs`
 * apart batch from batch; statuses in order.
 */
async function hit(
  replicas: Replica[],
  key: string,
  total: number,
  options: { maxTokens?: number; concurrency?: number; gapMs?: number } = {},
): Promise<number[]> {
  const statuses: number[] = [];
  const concurrency = options.concurrency ?? 16;
  for (let i = 0; i < total; i += concurrency) {
    if (i > 0 && options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
    const batch = Array.from({ length: Math.min(concurrency, total - i) }, (_, j) =>
      post(replicas[(i + j) % replicas.length]!, key, options.maxTokens),
    );
    for (const res of await Promise.all(batch)) {
      statuses.push(res.status);
      await res.arrayBuffer();
    }
  }
  return statuses;
}

/** Stays clear of a minute's last seconds, where the sliding window would lend the next minute's allowance. */
async function awayFromWindowEdge(): Promise<void> {
  const into = Date.now() % 60_000;
  if (into > 52_000) await new Promise((r) => setTimeout(r, 60_000 - into + 200));
}

describe("rate limits shared by two router replicas over a real NATS", () => {
  let nats: NatsServer;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    const config = configFor(nats.url);
    for (let i = 0; i < 2; i++) {
      const server = createRouterServer(config, createLogger("router", "silent"), {
        classifierTransport: classifierTransport(config),
        executorTransport: executorTransport,
      });
      const port = await server.rpc.listen("127.0.0.1:0");
      replicas.push({ server, url: `http://127.0.0.1:${port}` });
    }
    // Both hold the policy and hear each other.
    await waitFor(() => replicas.every((r) => r.server.classifierPolicy.classify !== undefined && r.server.usage.mode().replicas === 2));
  });

  afterAll(async () => {
    for (const r of replicas) await r.server.close();
    await nats?.dispose();
  });

  it("admits the requests per minute within 5% when one tenant sends twice its limit through both", async () => {
    await awayFromWindowEdge();
    const statuses = await hit(replicas, keys.rpm, 2 * RPM);
    const admitted = statuses.filter((s) => s === 200).length;
    expect(statuses.filter((s) => s !== 200 && s !== 429)).toEqual([]);
    expect(Math.abs(admitted - RPM)).toBeLessThanOrEqual(0.05 * RPM);
    // Each replica served part of it: the limit is shared, not per replica.
    const metrics = await Promise.all(replicas.map((r) => fetch(`${r.url}/metrics`).then((res) => res.text())));
    const admittedOn = metrics.map((m) =>
      Number(/tiermesh_router_rate_limit_admitted_total\{[^}]*tenant="rpm"[^}]*\} (\d+)/.exec(m)?.[1] ?? 0),
    );
    expect(admittedOn.reduce((a, b) => a + b, 0)).toBe(admitted);
    expect(Math.min(...admittedOn)).toBeGreaterThan(RPM / 4);
    expect(metrics[0]).toMatch(
      /tiermesh_router_rate_limited_total\{[^}]*limit="requests_per_minute"[^}]*tenant="rpm"|tiermesh_router_rate_limited_total\{[^}]*tenant="rpm"[^}]*limit="requests_per_minute"/,
    );
  });

  it("answers the OpenAI edge 429 with Retry-After and OpenAI's rate_limit_exceeded error", async () => {
    const res = await post(replicas[0]!, keys.rpm);
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await res.json()) as { error: Record<string, unknown> };
    expect(body.error).toMatchObject({ type: "requests", code: "rate_limit_exceeded", param: null });
    expect(body.error["message"]).toMatch(/rate limit reached on requests_per_minute: limit 400/);
  });

  it("admits the tokens per minute within 5%, charging prompt plus max_tokens", async () => {
    await awayFromWindowEdge();
    // "Hello" is 1 token, plus 4 for the message: 205 tokens a request, so 2 x TPM is about 195 requests.
    const perRequest = 205;
    // Spread over about ten sync periods, as a minute's traffic is: the replicas share the
    // headroom period by period, so a burst over in two or three periods leaves some unused.
    const statuses = await hit(replicas, keys.tpm, Math.ceil((2 * TPM) / perRequest), { maxTokens: 200, concurrency: 8, gapMs: 40 });
    const admittedTokens = statuses.filter((s) => s === 200).length * perRequest;
    expect(Math.abs(admittedTokens - TPM)).toBeLessThanOrEqual(0.05 * TPM);
    const res = await post(replicas[1]!, keys.tpm, 500);
    expect(res.status).toBe(429);
    expect(((await res.json()) as { error: Record<string, unknown> }).error).toMatchObject({ type: "tokens", code: "rate_limit_exceeded" });
    // A request larger than the limit on its own can never pass: no Retry-After, and the parameter to lower.
    const tooLarge = await post(replicas[1]!, keys.tpm, TPM + 1);
    expect(tooLarge.status).toBe(429);
    expect(tooLarge.headers.get("retry-after")).toBeNull();
    expect(((await tooLarge.json()) as { error: Record<string, unknown> }).error).toMatchObject({ type: "tokens", param: "max_tokens" });
  });

  it("refuses the Router RPC RESOURCE_EXHAUSTED with retry-after metadata", async () => {
    const client = createClient(RouterService, createConnectTransport({ baseUrl: replicas[0]!.url, httpVersion: "1.1" }));
    const headers = { authorization: `Bearer ${keys.connect}` };
    const input = { input: { messages: [{ role: "user", content: "hi" }] } };
    // A limit of 2: the second request takes the headroom the other replica has not claimed.
    await client.complete(input, { headers });
    await client.complete(input, { headers });
    const err = await client.complete(input, { headers }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.metadata.get(ERROR_REASON_HEADER)).toBe(TENANT_RATE_LIMITED);
    expect(err?.metadata.get(RATE_LIMIT_HEADER)).toBe("requests_per_minute");
    expect(Number(err?.metadata.get(RETRY_AFTER_HEADER))).toBeGreaterThanOrEqual(1);
    expect(Number(err?.metadata.get(RETRY_AFTER_MS_HEADER))).toBeGreaterThan(0);
  });

  it("keeps each replica to limit / replicas while NATS is down, and answers at once", async () => {
    await awayFromWindowEdge();
    await nats.stop();
    await waitFor(() => replicas.every((r) => !r.server.natsConnected));
    expect(replicas.map((r) => r.server.usage.mode())).toMatchObject([
      { shared: false, replicas: 2 },
      { shared: false, replicas: 2 },
    ]);
    const started = Date.now();
    const statuses = await hit(replicas, keys.outage, 200);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(statuses.filter((s) => s === 200).length).toBe(100);
    const metrics = await fetch(`${replicas[0]!.url}/metrics`).then((res) => res.text());
    expect(metrics).toMatch(/tiermesh_router_rate_limit_shared\{[^}]*\} 0/);
    await nats.start();
    await waitFor(() => replicas.every((r) => r.server.natsConnected && r.server.usage.mode().replicas === 2));
  });
});

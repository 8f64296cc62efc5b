import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type CallOptions } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "@tiermesh/config";
import { buildReport, judgeByConfig, LedgerAggregator, openAggregates, readAggregates } from "@tiermesh/ledger";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import type { CompleteRequestSchema } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, natsClient, quietLogger } from "../support/ledger-fixture.js";
import { apiKey, replicaConfig, startReplica, type Replica, type TierAnswers } from "../support/router-replicas.js";

const plans = `
  tight: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 1 } }
  paced: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 1, stop_promotions_at: 0.3, pacing: [{ at: 0.5, max_tier: silver }] } }
  roomy: { default_tier: gold, max_tier: gold, budget: { monthly_usd: 1000 } }
`;
// A request with max_tokens 100 is estimated at $0.10 (100 tokens at gold's $1000/Mtok); gold costs
// exactly that, silver half.
const answers: TierAnswers = { gold: { costUsd: 0.1, delayMs: 30 }, silver: { costUsd: 0.05, delayMs: 30 } };
const ask = (tenant: string) =>
  [
    { input: { messages: [{ role: "user", content: "hi" }], maxTokens: 100 } },
    { headers: { authorization: `Bearer ${apiKey(tenant)}` }, timeoutMs: 10_000 },
  ] as [MessageInitShape<typeof CompleteRequestSchema>, CallOptions];

describe("budgets across router replicas (real nats-server; routers in this process, executors in memory)", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  let config: Config;
  let aggregator: LedgerAggregator;
  const replicas: Replica[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats.url);
    config = replicaConfig(nats.url, { plans, tenants: ["racer:tight", "thrifty:paced", "steady:roomy"] });
    aggregator = new LedgerAggregator({
      subjectPrefix: config.nats.subject_prefix,
      ledger: config.ledger,
      judge: () => judgeByConfig(config),
      logger: quietLogger,
      mayWrite: () => true,
    });
    aggregator.start(nc);
    replicas.push(await startReplica(config, answers), await startReplica(config, answers));
  });
  afterAll(async () => {
    for (const r of replicas) await r.close();
    await aggregator?.stop();
    await nc?.close();
    await nats?.dispose();
  });

  it("two replicas racing one tenant's budget overshoot it by at most one request per replica", async () => {
    const outcomes: ("ok" | "refused")[] = [];
    let spent = 0;
    // Five callers per replica, each sending requests until refused.
    const caller = async (replica: Replica) => {
      for (;;) {
        try {
          const res = await replica.client.complete(...ask("racer"));
          spent += res.costUsd;
          outcomes.push("ok");
        } catch (cause) {
          const err = ConnectError.from(cause);
          expect(err.code).toBe(Code.ResourceExhausted);
          expect(err.rawMessage).toContain("plan tight's monthly budget of $1.00");
          outcomes.push("refused");
          return;
        }
      }
    };
    await Promise.all(replicas.flatMap((r) => Array.from({ length: 5 }, () => caller(r))));
    const maxRequestUsd = 0.1;
    expect(spent).toBeLessThanOrEqual(1 + replicas.length * maxRequestUsd + 1e-9);
    // The reservation keeps it tighter still: an estimate is never below these costs.
    expect(spent).toBeLessThanOrEqual(1 + 1e-9);
    expect(outcomes.filter((o) => o === "ok").length).toBeGreaterThanOrEqual(9);
    expect(outcomes.filter((o) => o === "refused").length).toBe(10);
    // The ledger agrees with what the callers were charged, once aggregated.
    await eventually(() => Math.abs(replicas[0]!.server.budget.spentUsd("racer") - spent) < 1e-9, 10_000, "spend aggregated");
  });

  it("steps the tier down, then refuses with 429 at the OpenAI edge, saying why", async () => {
    const [a] = replicas;
    const seen: { served: string; reasons: string[] }[] = [];
    for (;;) {
      try {
        const res = await a!.client.complete(...ask("thrifty"));
        seen.push({ served: res.routing!.servedTier, reasons: res.routing!.reasons });
      } catch (cause) {
        expect(ConnectError.from(cause).code).toBe(Code.ResourceExhausted);
        break;
      }
    }
    // $0.50 at gold (5 requests), then silver at $0.05 until $1.00 (10 more).
    expect(seen.map((s) => s.served)).toEqual([...Array(5).fill("gold"), ...Array(10).fill("silver")]);
    expect(seen[4]!.reasons.some((r) => r.includes("budget pacing"))).toBe(false);
    expect(seen[5]!.reasons).toContain(
      "budget pacing: tenant thrifty has spent $0.50 (50%) of plan paced's monthly budget of $1.00 for " +
        new Date().toISOString().slice(0, 7) +
        "; served at silver at most from 50% (entitled to gold)",
    );
    const res = await fetch(`${a!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey("thrifty")}` },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], max_tokens: 100 }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await res.json()) as { error: { type: string; code: string; message: string } };
    expect(body.error.type).toBe("insufficient_quota");
    expect(body.error.code).toBe("insufficient_quota");
    expect(body.error.message).toMatch(
      /^budget exhausted: tenant thrifty has spent \$1\.00 \(100%\) of plan paced's monthly budget of \$1\.00 for \d{4}-\d{2}$/,
    );
    // A streamed request is refused the same way, before any event.
    const streamed = await fetch(`${a!.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiKey("thrifty")}` },
      body: JSON.stringify({ model: "auto", messages: [{ role: "user", content: "hi" }], max_tokens: 100, stream: true }),
    });
    expect(streamed.status).toBe(429);
    expect(((await streamed.json()) as { error: { code: string } }).error.code).toBe("insufficient_quota");
  });

  it("a router restarted mid-month keeps the tenant's spend (from the shared aggregates)", async () => {
    const before = replicas[0]!.server.budget.spentUsd("thrifty");
    expect(before).toBeCloseTo(1, 9);
    await replicas[0]!.close();
    replicas[0] = await startReplica(config, answers);
    await eventually(() => Math.abs(replicas[0]!.server.budget.spentUsd("thrifty") - before) < 1e-9, 10_000, "spend after restart");
    await expect(replicas[0]!.client.complete(...ask("thrifty"))).rejects.toMatchObject({ code: Code.ResourceExhausted });
  });

  it("NATS restarted with usage records in flight: none lost, none counted twice", async () => {
    let charged = 0;
    const serve = async (n: number) => {
      for (let i = 0; i < n; i++) charged += (await replicas[i % 2]!.client.complete(...ask("steady"))).costUsd;
    };
    await serve(10);
    await nats.stop();
    // Requests go on while NATS is away; their records wait in the routers' buffers.
    await serve(10);
    expect(replicas.reduce((n, r) => n + r.server.ledger.bufferedCount, 0)).toBeGreaterThan(0);
    // Budgets were decided on each router's own view meanwhile, and the metric says so.
    expect(replicas.reduce((n, r) => n + r.server.budget.localDecisions, 0)).toBeGreaterThan(0);
    const metrics = await (await fetch(`${replicas[0]!.url}/metrics`)).text();
    expect(metrics).toMatch(/^tiermesh_router_budget_local_decisions_total\{[^}]*\} [1-9]/m);
    await nats.start();
    await eventually(() => replicas.every((r) => r.server.ledger.bufferedCount === 0), 20_000, "buffers drained");
    const kv = await openAggregates(nc, config.ledger.aggregates_bucket);
    const total = async () =>
      buildReport(await readAggregates(kv, "steady.>"), config, { tenant: "steady", fromMs: 0, toMs: Date.now() + 3_600_000 }).rows.find(
        (r) => r.tier === "*",
      );
    await eventually(async () => (await total())?.requests === 20n, 20_000, "every record aggregated");
    expect((await total())!.costUsd).toBeCloseTo(charged, 9);
    await eventually(
      () => replicas.every((r) => Math.abs(r.server.budget.spentUsd("steady") - charged) < 1e-9),
      10_000,
      "routers see the spend",
    );
  }, 60_000);
});

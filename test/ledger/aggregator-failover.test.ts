import type { NatsConnection } from "@nats-io/transport-node";
import { parseConfig } from "@tiermesh/config";
import { createHealthMonitorServer, type HealthMonitorServer } from "@tiermesh/health-monitor";
import { buildReport, ensureLedgerStream, LedgerWriter, openAggregates, readAggregates } from "@tiermesh/ledger";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import { createLogger } from "@tiermesh/runtime";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, natsClient, usageRecord } from "../support/ledger-fixture.js";

describe("usage aggregation across health monitor replicas (real nats-server)", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  const monitors: HealthMonitorServer[] = [];

  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats.url);
  });
  afterAll(async () => {
    for (const m of monitors) await m.close();
    await nc?.close();
    await nats?.dispose();
  });

  it("the leader aggregates; when it stops, the next leader carries on from the checkpoint, counting each record once", async () => {
    const config = parseConfig(
      `
log: { level: warn }
nats: { url: "${nats.url}" }
router: { listen: "127.0.0.1:1" }
classifier: { listen: "127.0.0.1:2" }
health_monitor: { listen: "127.0.0.1:3", lease_ms: 600, probe: { interval_ms: 0 } }
providers: { p: { kind: openai, base_url: "http://127.0.0.1:4/v1" } }
tiers:
  gold: { rank: 1, executor: { listen: "127.0.0.1:5" }, models: [{ provider: p, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: { pro: { default_tier: gold, max_tier: gold } }
tenants: { acme: { plan: pro } }
`,
      "failover.yaml",
      {},
    );
    const logger = createLogger("health-monitor", "warn");
    for (let i = 0; i < 2; i++) {
      const m = createHealthMonitorServer(config, logger);
      await m.start();
      monitors.push(m);
    }
    await eventually(() => monitors.filter((m) => m.leading).length === 1, 10_000, "one leader");
    const writer = new LedgerWriter({
      connection: () => nc,
      subjectPrefix: config.nats.subject_prefix,
      prepare: (c) => ensureLedgerStream(c, config.nats.subject_prefix, config.ledger),
      maxBuffered: 10_000,
      flushMs: 10,
    });
    const kv = await openAggregates(nc, config.ledger.aggregates_bucket);
    const requests = async () =>
      buildReport(await readAggregates(kv, "acme.>"), config, { tenant: "acme", fromMs: 0, toMs: Date.now() + 3_600_000 }).rows.find(
        (r) => r.tier === "*",
      )?.requests;

    for (let i = 0; i < 50; i++) writer.append(usageRecord({ costUsd: 0.01 }));
    expect(await writer.drain(10_000)).toBe(true);
    await eventually(async () => (await requests()) === 50n, 15_000, "first records aggregated by the leader");

    const leader = monitors.find((m) => m.leading)!;
    await leader.close();
    monitors.splice(monitors.indexOf(leader), 1);
    for (let i = 0; i < 50; i++) writer.append(usageRecord({ costUsd: 0.01 }));
    expect(await writer.drain(10_000)).toBe(true);
    await eventually(() => monitors[0]!.leading, 10_000, "the other replica leads");
    await eventually(async () => (await requests()) === 100n, 15_000, "later records aggregated by the new leader");
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await requests()).toBe(100n);
    writer.close();
  }, 60_000);
});

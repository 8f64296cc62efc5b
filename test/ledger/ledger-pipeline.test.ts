import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import {
  aggregateKey,
  buildReport,
  ensureLedgerStream,
  hourStart,
  judgeByConfig,
  LedgerAggregator,
  LedgerWriter,
  openAggregates,
  readAggregates,
  rebuildAggregates,
} from "@tiermesh/ledger";
import { UsageOutcome } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, ledgerTestConfig, natsClient, quietLogger, testLedger, usageRecord } from "../support/ledger-fixture.js";

const config = ledgerTestConfig();

describe("usage ledger pipeline (real nats-server, JetStream file storage)", () => {
  let nats: NatsServer;
  let nc: NatsConnection;
  beforeAll(async () => {
    nats = await startNatsServer();
    nc = await natsClient(nats.url);
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.dispose();
  });

  // Each test has its own stream, and so its own subject prefix (streams may not share subjects).
  const prefixOf = (ledger: { stream: string }) => `t_${ledger.stream}`;
  const writerFor = (ledger = testLedger(), conn: () => NatsConnection | undefined = () => nc) => {
    const prefix = prefixOf(ledger);
    return new LedgerWriter({
      connection: conn,
      subjectPrefix: prefix,
      prepare: (c) => ensureLedgerStream(c, prefix, ledger),
      maxBuffered: ledger.max_buffered,
      flushMs: ledger.flush_ms,
    });
  };
  const aggregatorFor = (ledger = testLedger()) =>
    new LedgerAggregator({
      subjectPrefix: prefixOf(ledger),
      ledger,
      judge: () => judgeByConfig(config),
      logger: quietLogger,
      mayWrite: () => true,
      batch: 50,
    });
  const totals = async (ledger = testLedger(), tenant = "acme") => {
    const kv = await openAggregates(nc, ledger.aggregates_bucket);
    const report = buildReport(await readAggregates(kv), config, { tenant, fromMs: 0, toMs: Date.now() + 3_600_000 });
    return report.rows.find((r) => r.tier === "*");
  };

  it("stores each record once, aggregates it once, and survives a NATS restart with records in flight and an aggregator restart", async () => {
    const ledger = testLedger({ stream: "ledger_a", aggregates_bucket: "usage_a" });
    const writer = writerFor(ledger);
    const aggregator = aggregatorFor(ledger);
    aggregator.start(nc);
    const first = Array.from({ length: 120 }, () => usageRecord({ costUsd: 0.01 }));
    for (const r of first) writer.append(r);
    // Appending the same request again (a retry) counts once.
    writer.append(first[0]!);
    expect(await writer.drain(10_000)).toBe(true);
    await eventually(async () => (await totals(ledger))?.requests === 120n, 15_000, "first records aggregated");
    // Records go out in batches: a handful of acknowledged publishes, not one per request.
    const messages = async () => (await (await jetstreamManager(nc)).streams.info(ledger.stream)).state.messages;
    expect(await messages()).toBeLessThanOrEqual(12);

    // NATS goes away with records still to be sent; they wait in the buffer.
    await nats.stop();
    const second = Array.from({ length: 80 }, () => usageRecord({ costUsd: 0.01 }));
    for (const r of second) expect(writer.append(r)).toBe(true);
    await new Promise((r) => setTimeout(r, 500));
    expect(writer.bufferedCount).toBe(80);
    // The aggregator dies too and a new one takes over after NATS is back.
    await aggregator.stop();
    await nats.start();
    expect(await writer.drain(20_000)).toBe(true);
    const next = aggregatorFor(ledger);
    next.start(nc);
    await eventually(async () => (await totals(ledger))?.requests === 200n, 20_000, "every record aggregated after the restart");
    const t = (await totals(ledger))!;
    expect(t.costUsd).toBeCloseTo(2, 9);
    expect(t.ok).toBe(200n);
    expect(writer.droppedCount).toBe(0);

    // Rebuilding from the stream gives the same numbers, with nothing counted twice.
    await rebuildAggregates(nc, ledger);
    await eventually(async () => (await totals(ledger))?.requests === 200n, 20_000, "aggregates rebuilt");
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await totals(ledger))!.requests).toBe(200n);
    expect((await totals(ledger))!.costUsd).toBeCloseTo(2, 9);
    await next.stop();
    writer.close();
  }, 90_000);

  it("refuses records past the buffer bound and counts them, keeping those accepted", async () => {
    const ledger = testLedger({ stream: "ledger_b", aggregates_bucket: "usage_b", max_buffered: 5 });
    const writer = writerFor(ledger, () => undefined);
    const accepted = Array.from({ length: 8 }, () => writer.append(usageRecord()));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    expect(writer.droppedCount).toBe(3);
    expect(writer.bufferedCount).toBe(5);
    writer.close();
  });

  it("reports what a synthetic workload truly did", async () => {
    const ledger = testLedger({ stream: "ledger_c", aggregates_bucket: "usage_c" });
    const writer = writerFor(ledger);
    const aggregator = aggregatorFor(ledger);
    aggregator.start(nc);
    const at = BigInt(Date.UTC(2026, 10, 14, 10, 30));
    // globex, entitled to gold: 100 requests. 90 ok on gold (TTFT i*10 ms for i = 1..90: 50 within
    // the 500 ms objective), 6 ok on silver after falling back (TTFT 200 ms: within, but not at the
    // entitled tier), 4 failed; 3 refused by the budget. Costs 0.01 each ok, tokens 100/50 each ok.
    const records = [];
    for (let i = 1; i <= 90; i++)
      records.push(usageRecord({ tenant: "globex", ttftMs: i * 10, latencyMs: 1_000, costUsd: 0.01, atMs: at }));
    for (let i = 0; i < 6; i++)
      records.push(usageRecord({ tenant: "globex", servedTier: "silver", ttftMs: 200, latencyMs: 2_000, costUsd: 0.01, atMs: at }));
    for (let i = 0; i < 4; i++)
      records.push(
        usageRecord({
          tenant: "globex",
          servedTier: "",
          outcome: UsageOutcome.FAILED,
          promptTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          ttftMs: 0,
          atMs: at,
        }),
      );
    for (let i = 0; i < 3; i++)
      records.push(
        usageRecord({
          tenant: "globex",
          servedTier: "",
          outcome: UsageOutcome.REFUSED,
          promptTokens: 0,
          completionTokens: 0,
          costUsd: 0,
          ttftMs: 0,
          atMs: at,
        }),
      );
    // Another month's request does not count in November.
    records.push(usageRecord({ tenant: "globex", costUsd: 5, atMs: BigInt(Date.UTC(2026, 9, 31, 23, 59)) }));
    for (const r of records) writer.append(r);
    expect(await writer.drain(10_000)).toBe(true);
    const kv = await openAggregates(nc, ledger.aggregates_bucket);
    await eventually(
      async () => (await kv.get(aggregateKey("globex", "gold", hourStart(Number(at)))))?.revision !== undefined,
      10_000,
      "aggregate",
    );
    await eventually(async () => {
      const all = await readAggregates(kv);
      return [...all.values()].reduce((n, a) => n + a.requests + a.refused, 0n) === 104n;
    });
    const report = buildReport(await readAggregates(kv), config, {
      tenant: "globex",
      fromMs: Date.UTC(2026, 10, 1),
      toMs: Date.UTC(2026, 11, 1),
    });
    const gold = report.rows.find((r) => r.tier === "gold")!;
    expect(gold).toMatchObject({
      tenant: "globex",
      plan: "pro",
      requests: 100n,
      ok: 96n,
      failed: 4n,
      refused: 3n,
      promptTokens: 9_600n,
      completionTokens: 4_800n,
    });
    expect(gold.sloMetShare).toBeCloseTo((50 + 6) / 100, 9);
    expect(gold.servedEntitledShare).toBeCloseTo(90 / 100, 9);
    expect(gold.availability).toBeCloseTo(96 / 100, 9);
    expect(gold.availabilityObjective).toBe(0.99);
    expect(gold.ttftObjectiveMs).toBe(500);
    expect(gold.costUsd).toBeCloseTo(0.96, 9);
    // TTFT p50 of 96 samples: the 48th smallest is 420 ms (6 at 200, then 10, 20, ...): bucket 500.
    expect(gold.ttftP50Ms).toBe(500);
    expect(gold.ttftP99Ms).toBe(1_000);
    expect(gold.latencyP50Ms).toBe(1_000);
    expect(gold.latencyP99Ms).toBe(2_000);
    expect(report.budgets[0]).toMatchObject({ tenant: "globex", monthlyBudgetUsd: 100 });
    expect(report.budgets[0]!.budgetUsedShare).toBeCloseTo(0.0096, 9);
    await aggregator.stop();
    writer.close();
  }, 60_000);
});

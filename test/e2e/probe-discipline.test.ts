import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { patchModel, simulatorRequests, startMesh, type RunningMesh, type SimRequest } from "../support/running-mesh.js";
import { steadyTraffic } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** The product's probe intervals: calm deployments every second, down ones every 200 ms. */
const probe = { interval_ms: 1_000, down_interval_ms: 200, timeout_ms: 2_000 };

const within = (requests: readonly SimRequest[], from: number, to: number) => requests.filter((r) => r.at_ms >= from && r.at_ms < to);

async function recent(m: RunningMesh, model: string): Promise<SimRequest[]> {
  return (await simulatorRequests(m.simulatorUrl))[model]?.recent ?? [];
}

describe("probe discipline: probes only where traffic does not show a deployment's health", () => {
  let m: RunningMesh;
  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.health_monitor.probe = probe;
      },
    });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("no probe to gold while its traffic flows; idle tiers probed every second, gold every 200 ms once it is down; probes ask for 1 token", async () => {
    // About 10 requests a second, all on gold.
    const traffic = steadyTraffic(m.routerUrl, { workers: 2, pauseMs: 180 });
    let steadyFrom = 0;
    let steadyTo = 0;
    let downFrom = 0;
    let downTo = 0;
    try {
      await sleep(1_500);
      steadyFrom = Date.now();
      await sleep(5_000);
      steadyTo = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { outage: true });
      // Gold goes down within a few failed requests; traffic moves to silver.
      await sleep(1_500);
      downFrom = Date.now();
      await sleep(2_000);
      downTo = Date.now();
    } finally {
      await traffic.stop();
      await patchModel(m.simulatorUrl, "sim-gold", { outage: false });
    }
    const gold = await recent(m, "sim-gold");
    const bronze = await recent(m, "sim-bronze");

    const steadyGold = within(gold, steadyFrom, steadyTo);
    expect(steadyGold.filter((r) => !r.probe).length).toBeGreaterThan(35);
    expect(steadyGold.filter((r) => r.probe)).toEqual([]);
    // Bronze is idle: probed about once a second.
    const idleProbes = within(bronze, steadyFrom, steadyTo).filter((r) => r.probe);
    expect(idleProbes.length).toBeGreaterThanOrEqual(4);
    expect(idleProbes.length).toBeLessThanOrEqual(6);

    // Gold is down and gets no traffic: its deployment is probed every down_interval_ms.
    const downGold = within(gold, downFrom, downTo);
    expect(downGold.filter((r) => !r.probe)).toEqual([]);
    expect(downGold.filter((r) => r.probe).length).toBeGreaterThanOrEqual(7);

    const probes = [...gold, ...bronze].filter((r) => r.probe);
    expect(probes.length).toBeGreaterThan(10);
    expect(probes.every((r) => r.max_tokens === 1)).toBe(true);
  });

  it("/metrics counts probes and their cost per deployment", async () => {
    const text = await (await fetch(`${m.monitorUrl}/metrics`)).text();
    const sent = Number(
      /tiermesh_monitor_probes_total\{tier="bronze",deployment="sim\/sim-bronze",outcome="ok"[^}]*\} (\d+)/.exec(text)?.[1],
    );
    const cost = Number(
      /tiermesh_monitor_probe_cost_usd_total\{tier="bronze",deployment="sim\/sim-bronze"[^}]*\} ([\d.e-]+)/.exec(text)?.[1],
    );
    const bronze = (await simulatorRequests(m.simulatorUrl))["sim-bronze"]!;
    expect(sent).toBeGreaterThanOrEqual(5);
    // Every probe that reached the provider was counted (one may be on its way back).
    expect(sent).toBeGreaterThanOrEqual(bronze.probes - 1);
    expect(sent).toBeLessThanOrEqual(bronze.probes);
    // Priced at bronze's 1 $/Mtok in, 3 $/Mtok out: a few prompt tokens and 1 completion token each.
    expect(cost).toBeGreaterThan(0);
    expect(cost / sent).toBeLessThan(20e-6);
    expect(text).toMatch(/tiermesh_monitor_probes_skipped_total\{tier="gold",deployment="sim\/sim-gold",reason="traffic"[^}]*\} [1-9]/);
  });
});

describe("Retry-After: nothing reaches a deployment while its provider asked to wait", () => {
  let m: RunningMesh | undefined;
  afterEach(async () => {
    await m?.stop();
    m = undefined;
  });

  it("a 429 with Retry-After 2 s keeps traffic and probes off the deployment for 2 s, every time", async () => {
    m = await startMesh({
      patch(raw) {
        raw.health_monitor.probe = probe;
      },
    });
    const traffic = steadyTraffic(m.routerUrl, { workers: 2, pauseMs: 180 });
    let limitedFrom = 0;
    let limitedTo = 0;
    try {
      await sleep(1_500);
      limitedFrom = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { rate_limit_rate: 1, retry_after_s: 2 });
      await sleep(6_000);
      await patchModel(m.simulatorUrl, "sim-gold", { rate_limit_rate: 0 });
      limitedTo = Date.now();
      await sleep(2_500);
    } finally {
      await traffic.stop();
    }
    const gold = await recent(m, "sim-gold");
    const limited = gold.filter((r) => r.answer === "rate_limit");
    // A 429 about every 2 s (to traffic or to a probe), never more often.
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeLessThanOrEqual(8);
    // Requests already on their way when a 429 came back arrive within a few ms of it; after
    // that, nothing until its Retry-After is over.
    const first = limited[0]!.at_ms;
    for (const r of within(gold, first, limitedTo)) {
      const last429 = Math.max(...limited.filter((l) => l.at_ms <= r.at_ms - 100).map((l) => l.at_ms));
      if (Number.isFinite(last429)) expect(r.at_ms - last429).toBeGreaterThanOrEqual(1_950);
    }
    // Gold's users were served by silver meanwhile, and gold takes traffic again once the provider does.
    expect(traffic.failed).toEqual([]);
    expect(traffic.served.some((r) => r.startedAt > limitedFrom && r.served === "silver")).toBe(true);
    expect(gold.some((r) => r.at_ms > limitedTo && !r.probe && r.answer === "ok")).toBe(true);
  });
});

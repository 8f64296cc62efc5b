import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { hashApiKey } from "@tiermesh/config";
import { freePort, spawnServiceProcess } from "@tiermesh/process";
import { TierState } from "@tiermesh/proto";
import { waitForServing } from "@tiermesh/runtime";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";
import { steadyTraffic } from "../support/traffic.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const PRO_KEY = "tm_pro_tenant_key_for_promotion_tests_0123456789";
const FREE_KEY = "tm_free_tenant_key_for_promotion_tests_987654321";

let mesh: RunningMesh | undefined;
afterEach(async () => {
  await mesh?.stop();
  mesh = undefined;
});

describe("SLO-driven routing with real processes and NATS", () => {
  it("a latency breach on silver promotes silver traffic into gold, within gold's capacity share and the plan's entitlement", async () => {
    mesh = await startMesh({
      tiers: [
        { name: "gold", rank: 3, fallback: "silver", model: "sim-gold", bulkhead: { max_concurrency: 10, max_queue: 10 } },
        {
          name: "silver",
          rank: 2,
          fallback: "bronze",
          model: "sim-silver",
          slo: { window_ms: 2_000, min_samples: 10, ttft_p95_ms: 150, min_dwell_ms: 500, consecutive_failures_down: 50 },
          routing: { on_degraded: "promote", promote_share: 0.3, sticky_ms: 0, return_steps: [1], return_step_ms: 200 },
        },
        { name: "bronze", rank: 1, model: "sim-bronze" },
      ],
      patch(raw) {
        raw.plans.pro = { default_tier: "silver", max_tier: "gold" };
        raw.plans.free = { default_tier: "silver", max_tier: "silver" };
        raw.tenants.prodco = { plan: "pro", api_key_sha256: [hashApiKey(PRO_KEY)] };
        raw.tenants.freeco = { plan: "free", api_key_sha256: [hashApiKey(FREE_KEY)] };
      },
    });
    const status = await watchStatus(mesh.mesh.natsUrl);
    await patchModel(mesh.simulatorUrl, "sim-silver", { ttft_ms: { median: 300, p99: 400 } });
    const breachAt = Date.now();
    const pro = steadyTraffic(mesh.routerUrl, { workers: 8, pauseMs: 0, apiKey: PRO_KEY });
    const free = steadyTraffic(mesh.routerUrl, { workers: 2, pauseMs: 0, apiKey: FREE_KEY });
    // The router's own count of promoted requests in flight into gold, sampled while traffic runs.
    const inFlight: number[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const text = await (await fetch(`${mesh!.routerUrl}/metrics`)).text();
        const m = /tiermesh_router_promoted_in_flight\{tier="gold",service="router"\} (\d+)/.exec(text);
        if (m) inFlight.push(Number(m[1]));
        await sleep(10);
      }
    })();
    try {
      const degraded = await status.waitFor("silver", TierState.DEGRADED, breachAt);
      expect(degraded.event.reason).toMatch(/TTFT p95|latency budget/);
      await sleep(2_500);
    } finally {
      sampling = false;
      await sampler;
      await pro.stop();
      await free.stop();
      await status.close();
    }
    expect(pro.failed).toEqual([]);
    expect(free.failed).toEqual([]);
    const promoted = pro.served.filter((r) => r.served === "gold");
    expect(promoted.length).toBeGreaterThan(5);
    for (const r of promoted) {
      expect(r.requested).toBe("silver");
      expect(r.reasons).toContain("promoted to gold");
    }
    // Gold's share: 30% of its 10 slots = 3 promoted requests in flight at most; 8 workers want more.
    const refused = pro.served.filter(
      (r) => r.served === "silver" && r.reasons.some((x) => x.includes("promotion share (3 in flight) is used")),
    );
    expect(refused.length).toBeGreaterThan(0);
    expect(Math.max(...inFlight)).toBe(3);
    // The free plan is not entitled to gold: never promoted.
    expect(free.served.some((r) => r.reasons.includes("not promoted: gold is above the plan's entitlement silver"))).toBe(true);
    expect(free.served.every((r) => r.served !== "gold")).toBe(true);
  });

  it("keeps moved users on their new tier while gold recovers, and releases them once it is confirmed healthy", async () => {
    mesh = await startMesh({
      tiers: [
        {
          name: "gold",
          rank: 3,
          fallback: "silver",
          model: "sim-gold",
          routing: { sticky_ms: 9_000, return_steps: [1], return_step_ms: 100 },
        },
        { name: "silver", rank: 2, fallback: "bronze", model: "sim-silver" },
        { name: "bronze", rank: 1, model: "sim-bronze" },
      ],
    });
    const status = await watchStatus(mesh.mesh.natsUrl);
    const early = steadyTraffic(mesh.routerUrl, { users: 10 });
    let late: ReturnType<typeof steadyTraffic> | undefined;
    try {
      const outageAt = Date.now();
      await patchModel(mesh.simulatorUrl, "sim-gold", { outage: true });
      const down = await status.waitFor("gold", TierState.DOWN, outageAt);
      await sleep(500);
      await patchModel(mesh.simulatorUrl, "sim-gold", { outage: false });
      const back = await status.waitFor("gold", TierState.DEGRADED, down.receivedAt);
      // New users arrive after recovery; they were never moved.
      late = steadyTraffic(mesh.routerUrl, { users: 10, workers: 2 });
      const healthy = await status.waitFor("gold", TierState.HEALTHY, back.receivedAt);
      // Confirmed healthy long before sticky_ms ran out: the hold ends there, not at sticky_ms.
      expect(healthy.receivedAt).toBeLessThan(down.receivedAt + 9_000 - 2_000);
      await sleep(1_500);
      await early.stop();
      await late.stop();
      const whileRecovering = early.served.filter((r) => r.startedAt > back.receivedAt + 250 && r.endedAt < healthy.receivedAt);
      expect(whileRecovering.length).toBeGreaterThan(5);
      for (const r of whileRecovering) {
        expect(r.served).toBe("silver");
        expect(r.reasons.some((x) => x.startsWith("sticky: stays on silver"))).toBe(true);
      }
      const lateServed = late.served.filter((r) => r.startedAt > back.receivedAt + 250);
      expect(lateServed.length).toBeGreaterThan(5);
      const afterHealthy = early.served.filter((r) => r.startedAt > healthy.receivedAt + 250);
      expect(afterHealthy.length).toBeGreaterThan(10);
      expect(afterHealthy.every((r) => r.served === "gold")).toBe(true);
      expect(early.failed).toEqual([]);
    } finally {
      await early.stop();
      await late?.stop();
      await status.close();
    }
  });

  it("ignores stale status when the monitor is gone and falls back to the router's own breaker", async () => {
    mesh = await startMesh({
      patch(raw) {
        raw.router.status_ttl_ms = 1_500;
        raw.health_monitor.heartbeat_ms = 300;
      },
    });
    const status = await watchStatus(mesh.mesh.natsUrl);
    const traffic = steadyTraffic(mesh.routerUrl);
    try {
      await sleep(500);
      const outageAt = Date.now();
      await patchModel(mesh.simulatorUrl, "sim-gold", { outage: true });
      await status.waitFor("gold", TierState.DOWN, outageAt);
      await mesh.mesh.processes.get("health-monitor")!.stop("SIGKILL");
      const killedAt = Date.now();
      await sleep(3_000);
      await traffic.stop();
      expect(traffic.failed).toEqual([]);
      const stale = traffic.served.filter((r) => r.startedAt > killedAt + 2_000);
      expect(stale.length).toBeGreaterThan(10);
      for (const r of stale) {
        expect(r.served).toBe("silver");
        expect(r.reasons.join(" ")).toMatch(/router's own calls to it keep failing \(status stale\)|gold failed in-request/);
      }
      expect(stale.some((r) => r.reasons.some((x) => x.includes("status stale")))).toBe(true);
      const metrics = await (await fetch(`${mesh.routerUrl}/metrics`)).text();
      expect(metrics).toMatch(/tiermesh_router_tier_state\{tier="gold",source="passive",service="router"\} 3/);
    } finally {
      await traffic.stop();
      await status.close();
    }
  });

  it("keeps routing while NATS is stopped (on the last known state), and resynchronises from the bucket when it is back", async () => {
    mesh = await startMesh({ patch: (raw) => (raw.router.status_ttl_ms = 1_500) });
    const nats = mesh.mesh.nats!;
    const status = await watchStatus(mesh.mesh.natsUrl);
    const outageAt = Date.now();
    await patchModel(mesh.simulatorUrl, "sim-gold", { outage: true });
    await status.waitFor("gold", TierState.DOWN, outageAt);
    await status.close();
    const traffic = steadyTraffic(mesh.routerUrl);
    try {
      await sleep(300);
      await nats.stop();
      const stoppedAt = Date.now();
      await sleep(3_000);
      const metricsDuring = await (await fetch(`${mesh.routerUrl}/metrics`)).text();
      expect(metricsDuring).toMatch(/tiermesh_router_nats_connected\{service="router"\} 0/);
      const restartingAt = Date.now();
      await nats.start();
      const restartedAt = Date.now();
      // The leading monitor reconnects, renews its lease and publishes again.
      const watch = await watchStatus(mesh.mesh.natsUrl);
      const fresh = await watch.waitFor("gold", TierState.DOWN, restartedAt, 10_000);
      await watch.close();
      await sleep(1_500);
      await traffic.stop();
      expect(traffic.failed).toEqual([]);
      const during = traffic.served.filter((r) => r.startedAt > stoppedAt + 2_000 && r.endedAt < restartingAt);
      expect(during.length).toBeGreaterThan(10);
      for (const r of during) {
        expect(r.served).toBe("silver");
        expect(
          r.reasons.some((x) => x.includes("(NATS unreachable)")),
          JSON.stringify(r),
        ).toBe(true);
      }
      // Between the reconnect and the first new status the router keeps the last known state.
      const reconnected = traffic.served.filter((r) => r.startedAt > restartedAt && r.endedAt < fresh.receivedAt);
      for (const r of reconnected) expect(r.served).toBe("silver");
      const after = traffic.served.filter((r) => r.startedAt > fresh.receivedAt + 250);
      expect(after.length).toBeGreaterThan(10);
      for (const r of after) {
        expect(r.served).toBe("silver");
        expect(
          r.reasons.some((x) => /^gold is down \(tier status #\d+/.test(x)),
          JSON.stringify(r),
        ).toBe(true);
      }
      const metricsAfter = await (await fetch(`${mesh.routerUrl}/metrics`)).text();
      expect(metricsAfter).toMatch(/tiermesh_router_nats_connected\{service="router"\} 1/);
    } finally {
      await traffic.stop();
    }
  });

  it("hands over to another monitor replica when the leader dies, with no conflicting events", async () => {
    mesh = await startMesh({ patch: (raw) => (raw.health_monitor.lease_ms = 1_000) });
    // A second replica of the monitor on its own port.
    const second = { ...mesh.raw, health_monitor: { ...(mesh.raw["health_monitor"] as object), listen: `127.0.0.1:${await freePort()}` } };
    const secondFile = join(mesh.dir, "second-monitor.yaml");
    writeFileSync(secondFile, stringify(second));
    const replica = spawnServiceProcess({
      name: "health-monitor-2",
      command: process.execPath,
      args: [join(root, "services/health-monitor/dist/main.js"), "--config", secondFile],
      env: { ...process.env, TIERMESH_NATS_URL: mesh.mesh.natsUrl },
    });
    try {
      await waitForServing(`http://${(second.health_monitor as { listen: string }).listen}`, 10_000);
      const status = await watchStatus(mesh.mesh.natsUrl);
      await sleep(1_500);
      const before = new Set(status.events.map((e) => e.event.monitorId));
      expect(before.size).toBe(1);
      const [leaderId] = [...before];
      const leaderIsFirst = leaderId!.endsWith(`:${mesh.mesh.processes.get("health-monitor")!.child.pid}`);
      const killedAt = Date.now();
      if (leaderIsFirst) await mesh.mesh.processes.get("health-monitor")!.stop("SIGKILL");
      else await replica.stop("SIGKILL");
      await sleep(3_000);
      await status.close();
      const after = status.events.filter((e) => e.receivedAt > killedAt + 100);
      expect(after.length).toBeGreaterThan(0);
      const newLeaders = new Set(after.map((e) => e.event.monitorId));
      expect(newLeaders.size).toBe(1);
      expect([...newLeaders][0]).not.toBe(leaderId);
      const firstFromNew = Math.min(...after.map((e) => e.receivedAt));
      expect(firstFromNew - killedAt).toBeLessThan(2_500);
      // Sequences keep increasing across the takeover.
      const seqs = status.events.map((e) => e.event.sequence);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]! > seqs[i - 1]!).toBe(true);
    } finally {
      await replica.stop();
    }
  });
});

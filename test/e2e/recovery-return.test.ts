import { afterEach, describe, expect, it } from "vitest";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { steadyTraffic, type Served } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const slo = { window_ms: 5_000, min_samples: 20, consecutive_failures_down: 3, recovery_successes: 3, min_dwell_ms: 1_000 };

/** How often each user's served tier changed, request after request. */
function tierChangesPerUser(served: readonly Served[]): Map<string, number> {
  const last = new Map<string, string>();
  const changes = new Map<string, number>();
  for (const r of [...served].sort((a, b) => a.startedAt - b.startedAt)) {
    const before = last.get(r.user);
    if (before !== undefined && before !== r.served) changes.set(r.user, (changes.get(r.user) ?? 0) + 1);
    last.set(r.user, r.served);
  }
  return changes;
}

describe("return to the requested tier after it recovers (product routing defaults)", () => {
  let m: RunningMesh | undefined;
  afterEach(async () => {
    await m?.stop();
    m = undefined;
  });

  it("brings users back within seconds of a short outage, callers without a user id step by step", async () => {
    m = await startMesh({
      patch(raw) {
        // The product's defaults for stickiness and the return ramp, not the test meshes' fast ones.
        raw.tiers.gold.routing = {};
        raw.tiers.gold.slo = slo;
      },
    });
    const traffic = steadyTraffic(m.routerUrl, { workers: 4, pauseMs: 30, users: 40, anonymousEvery: 3 });
    let endAt = 0;
    try {
      await sleep(1_500);
      await patchModel(m.simulatorUrl, "sim-gold", { outage: true });
      await sleep(3_000);
      await patchModel(m.simulatorUrl, "sim-gold", { outage: false });
      endAt = Date.now();
      await sleep(12_000);
    } finally {
      await traffic.stop();
    }
    expect(traffic.failed).toEqual([]);
    const after = traffic.served.filter((r) => r.startedAt >= endAt);
    const firstBack = Math.min(...after.filter((r) => r.served === "gold").map((r) => r.startedAt));
    expect(firstBack - endAt).toBeLessThan(3_000);
    // Everyone is back well within 15 s: the last stretch is served by gold only.
    const tail = after.filter((r) => r.startedAt >= endAt + 10_000);
    expect(tail.length).toBeGreaterThan(20);
    expect(tail.filter((r) => r.served !== "gold")).toEqual([]);
    // A caller without a user id gets a share back at the first step, not all or nothing.
    const firstStep = after.filter((r) => r.user === "" && r.startedAt >= firstBack && r.startedAt < firstBack + 1_500);
    const onGold = firstStep.filter((r) => r.served === "gold").length;
    expect(firstStep.length).toBeGreaterThan(8);
    expect(onGold).toBeGreaterThan(0);
    expect(onGold).toBeLessThan(firstStep.length);
  });

  it("moves any one user between tiers at most twice while gold flaps (2 s down, 2 s up)", async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.gold.routing = {};
        raw.tiers.gold.slo = slo;
      },
    });
    const traffic = steadyTraffic(m.routerUrl, { workers: 4, pauseMs: 30, users: 40 });
    try {
      await sleep(1_500);
      for (let i = 0; i < 5; i++) {
        await patchModel(m.simulatorUrl, "sim-gold", { outage: true });
        await sleep(2_000);
        await patchModel(m.simulatorUrl, "sim-gold", { outage: false });
        await sleep(2_000);
      }
    } finally {
      await traffic.stop();
    }
    expect(traffic.failed).toEqual([]);
    const changes = tierChangesPerUser(traffic.served);
    expect(changes.size).toBeGreaterThan(0);
    expect(Math.max(...changes.values())).toBeLessThanOrEqual(2);
    // 21.5 s of scripted flapping plus starting the mesh: more than the default 30 s on a busy machine.
  }, 60_000);
});

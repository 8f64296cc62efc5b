import { afterEach, describe, expect, it } from "vitest";
import { TierState } from "@tiermesh/proto";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";
import { steadyTraffic, type Served } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Gold's TTFT SLO and its TTFT timeout in these meshes. */
const SLO_MS = 800;
const TTFT_TIMEOUT_MS = 2_000;
const gold = {
  timeouts: { attempt_ms: 5_000, ttft_ms: TTFT_TIMEOUT_MS },
  retries: { max_attempts: 2, backoff_ms: 5 },
  slo: { window_ms: 5_000, min_samples: 20, ttft_p95_ms: SLO_MS, consecutive_failures_down: 3, recovery_successes: 3, min_dwell_ms: 1_000 },
};

const latency = (r: { startedAt: number; endedAt: number }) => r.endedAt - r.startedAt;

describe("a provider that hangs (accepts, never answers)", () => {
  let m: RunningMesh | undefined;
  afterEach(async () => {
    await m?.stop();
    m = undefined;
  });

  it("with gold's only deployment hung: nobody waits for it, gold traffic is served by silver at once, nothing fails", async () => {
    m = await startMesh({
      patch(raw) {
        Object.assign(raw.tiers.gold, gold, { hedge: { enabled: true } });
      },
    });
    const traffic = steadyTraffic(m.routerUrl, { workers: 4, pauseMs: 40 });
    let hangAt = 0;
    let endAt = 0;
    try {
      await sleep(1_500);
      hangAt = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { hang_rate: 1 });
      await sleep(3_000);
      await patchModel(m.simulatorUrl, "sim-gold", { hang_rate: 0 });
      endAt = Date.now();
      await sleep(500);
    } finally {
      await traffic.stop();
    }
    expect(traffic.failed).toEqual([]);
    const during = traffic.served.filter((r) => r.startedAt >= hangAt && r.startedAt < endAt);
    expect(during.length).toBeGreaterThan(50);
    // Nobody waits for the hung provider's TTFT timeout, let alone two of them.
    const slowest = Math.max(...during.map(latency));
    expect(slowest).toBeLessThan(TTFT_TIMEOUT_MS * 0.6);
    // Only the requests caught in the first moments of the hang are slower than the SLO.
    const slow = during.filter((r) => latency(r) > SLO_MS);
    expect(slow.length / during.length).toBeLessThan(0.05);
    // Silver serves gold's traffic, and the responses say why.
    const rerouted = during.filter((r) => r.served === "silver");
    expect(rerouted.length).toBeGreaterThan(during.length * 0.8);
    const why = rerouted.flatMap((r) => r.reasons).join("\n");
    expect(why).toMatch(/stall|gold is down/);
    // The first requests caught by the hang were hedged on silver (gold has nothing else to hedge on).
    expect(why).toMatch(/gold had no first token after \d+ ms \(tier gold has no other usable deployment[^)]*\)\); hedged on silver/);
    const firstRerouted = Math.min(...rerouted.map((r) => r.endedAt));
    expect(firstRerouted - hangAt).toBeLessThan(1_000);
  });

  it("with one of gold's two deployments hung: the healthy one takes the traffic and gold stays up", async () => {
    m = await startMesh({
      patch(raw) {
        Object.assign(raw.tiers.gold, gold, {
          models: [
            { id: "gold-a", provider: "sim", model: "sim-gold", price: { input_per_mtok: 3, output_per_mtok: 9 } },
            { id: "gold-b", provider: "sim", model: "sim-gold-b", price: { input_per_mtok: 3, output_per_mtok: 9 } },
          ],
          pool: { strategy: "least_outstanding" },
          hedge: { enabled: true },
        });
        raw.simulator.models["sim-gold-b"] = raw.simulator.models["sim-gold"];
      },
    });
    const status = await watchStatus(m.mesh.natsUrl);
    const traffic = steadyTraffic(m.routerUrl, { workers: 4, pauseMs: 40 });
    let hangAt = 0;
    let endAt = 0;
    try {
      await sleep(1_500);
      hangAt = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { hang_rate: 1 });
      await sleep(3_000);
      endAt = Date.now();
    } finally {
      await traffic.stop();
      await patchModel(m.simulatorUrl, "sim-gold", { hang_rate: 0 });
    }
    await status.close();
    expect(traffic.failed).toEqual([]);
    const during: Served[] = traffic.served.filter((r) => r.startedAt >= hangAt && r.startedAt < endAt);
    expect(during.length).toBeGreaterThan(50);
    // Any request served elsewhere is named with its routing reasons.
    expect(during.filter((r) => r.served !== "gold").map((r) => ({ served: r.served, reasons: r.reasons }))).toEqual([]);
    expect(Math.max(...during.map(latency))).toBeLessThan(TTFT_TIMEOUT_MS * 0.6);
    const goldDown = status.events.filter((e) => e.event.tier === "gold" && e.event.state === TierState.DOWN && e.receivedAt >= hangAt);
    expect(goldDown).toEqual([]);
  });
});

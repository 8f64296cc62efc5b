import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TierState } from "@tiermesh/proto";
import { userFraction } from "@tiermesh/router";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";
import { steadyTraffic } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Time allowed for an event to reach the router after the test saw it (same NATS, same machine). */
const PROPAGATION_MS = 250;
/** The test config's return ramp: 25%, 50%, then 100% of users, 1 s a step. */
const STEP_MS = 1_000;

describe("fault drill: gold's provider goes down under steady traffic", () => {
  let m: RunningMesh;

  beforeAll(async () => {
    m = await startMesh();
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("moves gold traffic to silver on the NATS status event, loses no request, and returns it step by step after recovery", async () => {
    const status = await watchStatus(m.mesh.natsUrl);
    const traffic = steadyTraffic(m.routerUrl);
    try {
      await sleep(1_000);
      const outageAt = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { outage: true });
      const down = await status.waitFor("gold", TierState.DOWN, outageAt);
      expect(down.event.reason).toMatch(/consecutive failed attempts|error rate/);
      await sleep(1_500);
      const recoverAt = Date.now();
      await patchModel(m.simulatorUrl, "sim-gold", { outage: false });
      // Down → degraded (recovering, router starts sending traffic back) → healthy.
      const recovering = await status.waitFor("gold", TierState.DEGRADED, recoverAt);
      const healthy = await status.waitFor("gold", TierState.HEALTHY, recoverAt);
      await sleep(Math.max(0, recovering.receivedAt + 3 * STEP_MS + 500 - Date.now()));
      await traffic.stop();

      // Nothing accepted is lost: every request of the drill was answered.
      expect(traffic.failed).toEqual([]);
      const s = traffic.served;
      expect(s.every((r) => r.requested === "gold")).toBe(true);

      // Before the outage gold serves gold.
      const before = s.filter((r) => r.endedAt < outageAt);
      expect(before.length).toBeGreaterThan(10);
      expect(before.every((r) => r.served === "gold")).toBe(true);

      // Between the outage and the status event, failing gold requests were rescued in-request.
      // (They may have started just before the outage was switched on.)
      const rescued = s.filter(
        (r) => r.endedAt >= outageAt && r.served === "silver" && r.reasons.some((x) => x.includes("gold failed in-request")),
      );
      expect(rescued.length).toBeGreaterThan(0);

      // Once the event is out, the router sends gold traffic straight to silver and says why.
      const routed = s.filter((r) => r.startedAt > down.receivedAt + PROPAGATION_MS && r.endedAt < recoverAt);
      expect(routed.length).toBeGreaterThan(10);
      for (const r of routed) {
        expect(r.served).toBe("silver");
        expect(r.reasons.some((x) => x.startsWith("gold is down"))).toBe(true);
        expect(r.reasons.some((x) => x.includes("in-request"))).toBe(false);
      }

      // Progressive return: first a quarter of the users (always the same ones), then all.
      const t0 = recovering.receivedAt;
      const firstStep = s.filter((r) => r.startedAt > t0 + PROPAGATION_MS && r.startedAt < t0 + STEP_MS - PROPAGATION_MS);
      expect(firstStep.length).toBeGreaterThan(10);
      for (const r of firstStep) {
        const back = userFraction(`acme:${r.user}`) < 0.25;
        expect({ user: r.user, served: r.served }).toEqual({ user: r.user, served: back ? "gold" : "silver" });
        if (!back) expect(r.reasons.some((x) => x.startsWith("progressive return: gold is back for 25% of users"))).toBe(true);
      }
      expect(new Set(firstStep.map((r) => r.served))).toEqual(new Set(["gold", "silver"]));
      const allBack = s.filter((r) => r.startedAt > t0 + 2 * STEP_MS + PROPAGATION_MS);
      expect(allBack.length).toBeGreaterThan(10);
      expect(allBack.every((r) => r.served === "gold")).toBe(true);
      expect(healthy.event.previousState).toBe(TierState.DEGRADED);
    } finally {
      await traffic.stop();
      await status.close();
    }
  });
});

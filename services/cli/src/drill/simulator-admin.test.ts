import { freePort } from "@tiermesh/process";
import { createSimulator, simulatorConfigSchema } from "@tiermesh/simulator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DrillSetupError } from "./drill-target.js";
import { faultPatch } from "./fault-patch.js";
import { SimulatorAdmin } from "./simulator-admin.js";

const sim = createSimulator(
  simulatorConfigSchema.parse({ models: { "sim-gold": { ttft_ms: { median: 100, p99: 300 }, error_rate: 0.01 }, "sim-silver": {} } }),
);
let url = "";

beforeAll(async () => {
  url = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
});
afterAll(() => sim.close());

describe("SimulatorAdmin (against the real simulator)", () => {
  it("reads a profile, applies a fault and puts the profile back exactly as it was", async () => {
    const admin = new SimulatorAdmin(url, "sim-gold");
    const saved = await admin.profile();
    expect(saved).toMatchObject({ ttft_ms: { median: 100, p99: 300 }, error_rate: 0.01, outage: false });
    expect(await admin.patch(faultPatch("slow", saved, { errorRate: 1, slowFactor: 4 }))).toMatchObject({
      ttft_ms: { median: 400, p99: 1_200 },
    });
    await admin.patch(faultPatch("down", saved, { errorRate: 1, slowFactor: 3 }));
    expect(sim.profiles()["sim-gold"]).toMatchObject({ outage: true, ttft_ms: { median: 400 } });
    expect(await admin.restore(saved)).toEqual(saved);
    expect(sim.profiles()["sim-gold"]).toEqual(saved);
    expect(sim.profiles()["sim-silver"]).toEqual(await new SimulatorAdmin(url, "sim-silver").profile());
  });

  it("says when the simulator is unreachable or lacks the model", async () => {
    await expect(new SimulatorAdmin(url, "sim-platinum").profile()).rejects.toThrow(/has no model "sim-platinum"/);
    const closed = `http://127.0.0.1:${await freePort()}`;
    await expect(new SimulatorAdmin(closed, "sim-gold").profile()).rejects.toThrow(DrillSetupError);
    await expect(new SimulatorAdmin(closed, "sim-gold").profile()).rejects.toThrow(/cannot reach the simulator's admin API/);
  });

  it("gives up restoring after its retries, with the simulator's answer", async () => {
    const admin = new SimulatorAdmin(url, "sim-gold");
    const bad = { ...(await admin.profile()), error_rate: 7 };
    await expect(admin.restore(bad, 2)).rejects.toThrow(/HTTP 400/);
  });
});

import { createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HealthMonitorService, TierExecutorService } from "@tiermesh/proto";
import { createGrpcJsTransport, createMeshTransport } from "@tiermesh/runtime";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

describe("canary probes per deployment", () => {
  let m: RunningMesh;

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.gold.models.push({ provider: "sim", model: "sim-gold-b", price: { input_per_mtok: 3, output_per_mtok: 9 } });
        raw.simulator.models["sim-gold-b"] = {
          ttft_ms: { median: 5, p99: 20 },
          inter_token_ms: { median: 0, p99: 0 },
          output_tokens: { min: 4, max: 8 },
          outage: true,
        };
      },
    });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("watch every deployment of an idle tier, so one failing deployment shows up without any traffic", async () => {
    const monitor = createClient(HealthMonitorService, createMeshTransport(m.monitorUrl));
    await new Promise((r) => setTimeout(r, 1_500));
    const gold = (await monitor.getStatus({})).tiers.find((t) => t.tier === "gold")!;
    const byId = new Map(gold.deployments.map((d) => [d.deployment, d.sli!]));
    expect(byId.get("sim/sim-gold")!.sampleCount).toBeGreaterThanOrEqual(3);
    expect(byId.get("sim/sim-gold")!.errorRate).toBe(0);
    expect(byId.get("sim/sim-gold-b")!.sampleCount).toBeGreaterThanOrEqual(3);
    expect(byId.get("sim/sim-gold-b")!.errorRate).toBe(1);
  });

  it("only probes may pick a deployment", async () => {
    const executor = createClient(TierExecutorService, createGrpcJsTransport(m.executorUrls["gold"]!));
    const input = { messages: [{ role: "user", content: "hi" }] };
    await expect(executor.execute({ tier: "gold", deployment: "sim/sim-gold", input })).rejects.toThrow(/deployment: only canary probes/);
    await expect(executor.execute({ tier: "gold", deployment: "sim/nope", probe: true, input })).rejects.toThrow(
      /has no deployment "sim\/nope"/,
    );
    const res = await executor.execute({ tier: "gold", deployment: "sim/sim-gold", probe: true, input });
    expect(res.deployment).toBe("sim/sim-gold");
  });
});

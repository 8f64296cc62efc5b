import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnServiceProcess, startNatsServer, type NatsServer } from "@tiermesh/process";
import { healthClient, routerClient, unary } from "../support/grpc-clients.js";
import { writeMeshConfig, type TestMeshConfig } from "../support/mesh-config.js";
import { patchModel, startMesh } from "../support/running-mesh.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "services/cli/dist/main.js");
const mainOf = (service: string) => join(root, `services/${service}/dist/main.js`);

function spawn(service: string, args: string[], natsUrl: string) {
  return spawnServiceProcess({
    name: service,
    command: process.execPath,
    args: [mainOf(service), ...args],
    env: { ...process.env, TIERMESH_NATS_URL: natsUrl },
  });
}

async function servingStatus(url: string): Promise<string> {
  const client = healthClient(url);
  const until = Date.now() + 10_000;
  try {
    for (;;) {
      try {
        const res = await unary<{ status: string }>(client, "Check", { service: "" }, undefined, 1_000);
        return res.status;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } finally {
    client.close();
  }
}

describe("each service on its own", () => {
  let nats: NatsServer;
  let cfg: TestMeshConfig;

  beforeAll(async () => {
    nats = await startNatsServer();
    cfg = await writeMeshConfig();
  });
  afterAll(async () => {
    await nats?.dispose();
  });

  it("router alone reports NOT_SERVING until a classifier publishes its policy, then SERVING; exits 0 on SIGTERM", async () => {
    const router = spawn("router", ["--config", cfg.file], nats.url);
    try {
      expect(await servingStatus(cfg.routerUrl)).toBe("NOT_SERVING");
      const classifier = spawn("classifier", ["--config", cfg.file], nats.url);
      try {
        const until = Date.now() + 10_000;
        while ((await servingStatus(cfg.routerUrl)) !== "SERVING" && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        expect(await servingStatus(cfg.routerUrl)).toBe("SERVING");
      } finally {
        expect(await classifier.stop("SIGTERM")).toBe(0);
      }
    } finally {
      expect(await router.stop("SIGTERM")).toBe(0);
    }
  });

  const cases: [string, string[], () => string][] = [
    ["classifier", [], () => cfg.classifierUrl],
    ["health-monitor", [], () => cfg.monitorUrl],
    ["tier-executor", ["--tier", "silver"], () => cfg.executorUrls["silver"]!],
  ];
  for (const [service, extra, url] of cases) {
    it(`${service} starts alone, reports SERVING on grpc.health.v1 and exits 0 on SIGTERM`, async () => {
      const proc = spawn(service, ["--config", cfg.file, ...extra], nats.url);
      try {
        expect(await servingStatus(url())).toBe("SERVING");
      } finally {
        expect(await proc.stop("SIGTERM")).toBe(0);
      }
    });
  }

  it("the CLI runs a single service the same way (tiermesh run)", async () => {
    const proc = spawnServiceProcess({
      name: "cli",
      command: process.execPath,
      args: [cli, "run", "classifier", "--config", cfg.file],
      env: { ...process.env, TIERMESH_NATS_URL: nats.url },
    });
    try {
      expect(await servingStatus(cfg.classifierUrl)).toBe("SERVING");
    } finally {
      expect(await proc.stop("SIGTERM")).toBe(0);
    }
  });
});

describe("bad configuration", () => {
  const badConfigs: [string, (raw: Record<string, any>) => void, string][] = [
    ["a fallback to an undefined tier", (raw) => (raw.tiers.gold.fallback = "platinum"), "tiers.gold.fallback"],
    ["a negative weight", (raw) => (raw.tiers.silver.models[0].weight = -1), "tiers.silver.models.0.weight"],
    ["a misspelt key", (raw) => (raw.router.listn = raw.router.listen), "router"],
    ["a plan above its max tier", (raw) => (raw.plans.enterprise.max_tier = "bronze"), "plans.enterprise.default_tier"],
    ["a bad simulator profile", (raw) => (raw.simulator.models["sim-gold"].error_rate = 2), "simulator.models.sim-gold.error_rate"],
  ];
  for (const [what, patch, path] of badConfigs) {
    it(`${what}: one line naming ${path}, non-zero exit`, async () => {
      const cfg = await writeMeshConfig({ patch });
      const service = path.startsWith("simulator") ? "simulator" : "router";
      const proc = spawn(service, ["--config", cfg.file], "nats://127.0.0.1:1");
      const code = await proc.exited;
      expect(code).toBe(2);
      expect(proc.lines).toHaveLength(1);
      expect(proc.lines[0]).toContain(path);
      expect(proc.lines[0]).toContain(cfg.file);
    });
  }

  it("a file that is not YAML or does not exist", async () => {
    const cfg = await writeMeshConfig();
    writeFileSync(cfg.file, "tiers: [unclosed\n");
    const broken = spawn("classifier", ["--config", cfg.file], "nats://127.0.0.1:1");
    expect(await broken.exited).toBe(2);
    expect(broken.lines.join("\n")).toMatch(/invalid YAML/);
    const missing = spawn("classifier", ["--config", join(cfg.dir, "nope.yaml")], "nats://127.0.0.1:1");
    expect(await missing.exited).toBe(2);
    expect(missing.lines).toEqual([expect.stringContaining("cannot read file: ENOENT")]);
  });

  it("an unknown --tier for the executor", async () => {
    const cfg = await writeMeshConfig();
    const proc = spawn("tier-executor", ["--config", cfg.file, "--tier", "platinum"], "nats://127.0.0.1:1");
    expect(await proc.exited).toBe(2);
    expect(proc.lines).toEqual([expect.stringContaining('--tier: unknown tier "platinum"')]);
  });
});

describe("graceful shutdown", () => {
  it("a router sent SIGTERM finishes the requests it has in flight", async () => {
    const m = await startMesh();
    const client = routerClient(m.routerUrl);
    try {
      await patchModel(m.simulatorUrl, "sim-gold", { ttft_ms: { median: 800, p99: 800 } });
      const inFlight = Array.from({ length: 5 }, () =>
        unary<{ routing: { served_tier: string } }>(client, "Complete", { input: { messages: [{ role: "user", content: "slow" }] } }),
      );
      await new Promise((r) => setTimeout(r, 200));
      const exit = m.mesh.processes.get("router")!.stop("SIGTERM");
      const results = await Promise.all(inFlight);
      expect(results.map((r) => r.routing.served_tier)).toEqual(["gold", "gold", "gold", "gold", "gold"]);
      expect(await exit).toBe(0);
    } finally {
      client.close();
      await m.stop();
    }
  });
});

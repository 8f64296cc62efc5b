import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { waitForPort, type ServiceProcess } from "@tiermesh/process";
import { TierState } from "@tiermesh/proto";
import { launcherClient, unary } from "../support/grpc-clients.js";
import { writeMeshConfig, type TestMeshConfig } from "../support/mesh-config.js";
import { patchModel } from "../support/running-mesh.js";
import { watchStatus } from "../support/status-watch.js";
import { cli, startTiermeshUp } from "../support/tiermesh-up.js";
import { steadyTraffic } from "../support/traffic.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Listed {
  nats_url: string;
  processes: { name: string; pid: number; state: string; restarts: number; last_exit: { signal: string } | null }[];
}

/** Log lines `tiermesh up` printed as JSON (its own events; --quiet hides the services' lines). */
function launcherEvents(up: ServiceProcess): Record<string, unknown>[] {
  return up.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function routerPolicyInfo(): Promise<string> {
  const text = await (await fetch(`${cfg.routerUrl}/metrics`)).text();
  return text.split("\n").find((l) => l.startsWith("tiermesh_router_policy_info{")) ?? "";
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

let cfg: TestMeshConfig;

describe("tiermesh up supervises its processes", () => {
  let up: ServiceProcess;
  let launcher: ReturnType<typeof launcherClient>;
  const list = () => unary<Listed>(launcher, "ListProcesses", {}, undefined, 2_000);
  const processOf = async (name: string) => (await list()).processes.find((p) => p.name === name)!;

  beforeAll(async () => {
    cfg = await writeMeshConfig({ patch: (raw) => (raw.log.level = "info") });
    up = await startTiermeshUp(cfg.file);
    launcher = launcherClient(cfg.launcherUrl);
  });
  afterAll(async () => {
    launcher?.close();
    await up?.stop("SIGTERM");
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  it("restarts a classifier killed with SIGKILL within seconds; the router resynchronises its policy and nothing fails", async () => {
    const before = await processOf("classifier");
    expect(before).toMatchObject({ state: "PROCESS_STATE_RUNNING", restarts: 0 });
    const traffic = steadyTraffic(cfg.routerUrl, { workers: 2, pauseMs: 50 });
    try {
      await sleep(500);
      const killedAt = Date.now();
      process.kill(before.pid, "SIGKILL");
      const after = await until("classifier restarted", async () => {
        const p = await processOf("classifier");
        return p.restarts === 1 && p.pid !== before.pid && p.state === "PROCESS_STATE_RUNNING" ? p : undefined;
      });
      // RUNNING again means SERVING again; allow for a slow start on a busy machine.
      expect(Date.now() - killedAt).toBeLessThan(10_000);
      expect(after.last_exit?.signal).toBe("SIGKILL");
      // The router's policy watch finds the classifier back on the same address.
      await until("router policy in sync", async () => ((await routerPolicyInfo()).includes('stale="0"') ? true : undefined), 10_000);
      const synced = Date.now();
      await sleep(1_000);
      await traffic.stop();
      expect(traffic.failed).toEqual([]);
      expect(traffic.served.filter((s) => s.startedAt > synced).length).toBeGreaterThan(5);
    } finally {
      await traffic.stop();
    }
    const exit = launcherEvents(up).find((e) => e["service"] === "classifier" && e["signal"] === "SIGKILL");
    expect(exit).toMatchObject({ level: 40, pid: before.pid, exitCode: null, restarts: 0, nextRestart: 1 });
    expect(exit!["nextDelayMs"]).toBeGreaterThan(0);
    expect(launcherEvents(up).some((e) => e["service"] === "classifier" && e["msg"] === "classifier restarted")).toBe(true);
  });

  it("restarts the private nats-server on its port, and tier status flows to the router again", async () => {
    const { nats_url: natsUrl } = await list();
    const before = await processOf("nats-server");
    const traffic = steadyTraffic(cfg.routerUrl, { workers: 2, pauseMs: 50 });
    try {
      await sleep(300);
      process.kill(before.pid, "SIGKILL");
      await until("nats-server restarted", async () => {
        const p = await processOf("nats-server");
        return p.restarts === 1 && p.pid !== before.pid && p.pid !== 0 ? p : undefined;
      });
      expect((await list()).nats_url).toBe(natsUrl);
      await waitForPort(Number(new URL(natsUrl).port), 5_000);
      // A status change published after the restart reaches subscribers and the router.
      const status = await watchStatus(natsUrl);
      const outageAt = Date.now();
      await patchModel(cfg.simulatorUrl, "sim-gold", { outage: true });
      const down = await status.waitFor("gold", TierState.DOWN, outageAt, 15_000);
      await status.close();
      await sleep(1_000);
      await traffic.stop();
      const after = traffic.served.filter((r) => r.startedAt > down.receivedAt + 250);
      expect(after.length).toBeGreaterThan(5);
      for (const r of after) {
        expect(r.served).toBe("silver");
        expect(
          r.reasons.some((x) => /^gold is down \(tier status #\d+/.test(x)),
          JSON.stringify(r),
        ).toBe(true);
      }
      // Traffic goes on through the NATS outage on the last known status.
      expect(traffic.failed).toEqual([]);
    } finally {
      await traffic.stop();
      await patchModel(cfg.simulatorUrl, "sim-gold", { outage: false });
    }
  });

  it("tiermesh status shows the restarts of each process", async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [cli, "status", "--config", cfg.file]);
    const row = (name: string) =>
      stdout
        .split("\n")
        .find((l) => l.startsWith(`${name} `))
        ?.split(/\s+/);
    expect(row("classifier")?.slice(1, 2)).toEqual(["running"]);
    expect(row("classifier")?.[3]).toBe("1");
    expect(row("nats-server")?.[3]).toBe("1");
    expect(row("router")?.[3]).toBe("0");
    expect(row("classifier")?.join(" ")).toMatch(/last exit SIGKILL/);
    expect(stdout).toMatch(/^gold\s/m);
  });

  it("SIGTERM stops everything cleanly, with no restart during shutdown", async () => {
    const pids = (await list()).processes.map((p) => p.pid);
    const eventsBefore = launcherEvents(up).length;
    expect(await up.stop("SIGTERM")).toBe(0);
    for (const pid of pids) expect(() => process.kill(pid, 0), `pid ${pid}`).toThrow(/ESRCH/);
    const during = launcherEvents(up).slice(eventsBefore);
    expect(during.filter((e) => /restart/.test(String(e["msg"])))).toEqual([]);
  });
});

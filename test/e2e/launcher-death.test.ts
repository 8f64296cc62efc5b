import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ServiceProcess } from "@tiermesh/process";
import { launcherClient, unary } from "../support/grpc-clients.js";
import { writeMeshConfig, type TestMeshConfig } from "../support/mesh-config.js";
import { startTiermeshUp } from "../support/tiermesh-up.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True while `pid` runs (a zombie waiting to be reaped has ended). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

describe.runIf(process.platform === "linux")("tiermesh up killed with SIGKILL", () => {
  let cfg: TestMeshConfig;
  let up: ServiceProcess;

  beforeAll(async () => {
    const setpriv = spawnSync("setpriv", ["--version"]);
    if (setpriv.error)
      throw new Error("setpriv not found: install util-linux (`apt-get install util-linux`), which binds services to tiermesh up");
    cfg = await writeMeshConfig();
    up = await startTiermeshUp(cfg.file);
  });
  afterAll(async () => {
    await up?.stop("SIGKILL");
    rmSync(cfg.dir, { recursive: true, force: true });
  });

  it("leaves no service and no nats-server behind: each gets SIGTERM and ends", async () => {
    const launcher = launcherClient(cfg.launcherUrl);
    const { processes } = await unary<{ processes: { name: string; pid: number }[] }>(launcher, "ListProcesses", {}, undefined, 2_000);
    launcher.close();
    expect(processes.map((p) => p.name)).toEqual(expect.arrayContaining(["nats-server", "router", "classifier", "health-monitor"]));
    expect(processes.every((p) => running(p.pid))).toBe(true);

    expect(await up.stop("SIGKILL")).toBe("SIGKILL");
    const deadline = Date.now() + 20_000;
    while (processes.some((p) => running(p.pid)) && Date.now() < deadline) await sleep(100);
    expect(processes.filter((p) => running(p.pid)).map((p) => `${p.name} (${p.pid})`)).toEqual([]);
  });
});

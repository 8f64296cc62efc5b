import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "services/cli/dist/main.js");
const run = promisify(execFile);

/** Runs `tiermesh drill` as a real process; resolves with its exit code and output whatever the code. */
async function drill(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cli, "drill", ...args], { cwd: root, timeout: 40_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

async function profiles(simulatorUrl: string): Promise<unknown> {
  return (await fetch(`${simulatorUrl}/admin/models`)).json();
}

describe("tiermesh drill", () => {
  let m: RunningMesh;

  beforeAll(async () => {
    m = await startMesh();
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("rehearses gold going down under traffic: nothing fails, silver takes over, gold comes back, the model is restored", async () => {
    const before = await profiles(m.simulatorUrl);
    const { code, stdout, stderr } = await drill([
      "--config",
      m.file,
      "--tier",
      "gold",
      "--fault",
      "down",
      "--duration",
      "2s",
      "--rate",
      "20",
      "--before",
      "2s",
      "--after",
      "6s",
      "--json",
    ]);
    expect({ code, stderr: code === 0 ? "" : stderr }).toEqual({ code: 0, stderr: "" });
    const r = JSON.parse(stdout);
    const { before: b, during: d, after: a } = r.phases;

    expect(r.drill).toMatchObject({
      tier: "gold",
      deployment: "sim/sim-gold",
      model: "sim-gold",
      fault: { kind: "down", patch: { outage: true } },
      tenant: "acme",
    });
    expect(r.interrupted).toBe(false);
    expect(r.restored).toBe(true);
    expect(await profiles(m.simulatorUrl)).toEqual(before);

    // Open loop at 20 req/s for 10 s, and nothing lost.
    expect(r.requests.sent).toBeGreaterThan(180);
    expect(r.requests).toMatchObject({ failed: 0, errors: {} });
    // The figures add up: phases split the requests, served tiers and failures cover each phase.
    expect(b.sent + d.sent + a.sent).toBe(r.requests.sent);
    for (const p of [b, d, a]) expect(sum(p.servedTiers) + p.failed).toBe(p.sent);

    // Gold serves before the fault, silver during it. The edges are blurred by the simulator's own
    // delay in applying the change (adminAckMs) and by requests in flight when it began.
    expect(b.servedTiers.gold).toBeGreaterThan(b.sent / 2);
    expect(d.servedTiers.silver).toBeGreaterThan(d.sent * 0.8);
    expect(a.servedTiers.gold).toBeGreaterThan(0);

    // Reroute: an answer from silver soon after the fault, and the router stops trying gold well within it.
    expect(r.reroute.firstAnswerElsewhereMs).toBeGreaterThanOrEqual(0);
    expect(r.reroute.firstAnswerElsewhereMs).toBeLessThan(1_000);
    expect(r.reroute.routedAroundMs).toBeGreaterThanOrEqual(0);
    expect(r.reroute.routedAroundMs).toBeLessThan(2_000);
    expect(r.reroute.noWaitMs).toBeGreaterThanOrEqual(0);
    expect(r.reroute.noWaitMs).toBeLessThanOrEqual(r.reroute.routedAroundMs);

    // Return: gold recovers (dwell, successes), then users come back in steps of 25%, 50%, 100% a second apart.
    expect(r.return.firstBackMs).toBeGreaterThan(0);
    expect(r.return.allBackMs).toBeGreaterThanOrEqual(r.return.firstBackMs);
    expect(r.return.allBackMs).toBeLessThan(6_000);

    // Latency figures are client-observed, so never below what the router itself measured.
    expect(d.ttftMs.p50).toBeGreaterThan(0);
    expect(d.ttftMs.max).toBeGreaterThanOrEqual(d.routerTtftMs.max - 1);
    expect(d.totalMs.max).toBeGreaterThanOrEqual(d.ttftMs.max);

    // Three callers in four send a user id (20 users), the fourth none; users moved to silver and back.
    expect(r.users.list.reduce((n: number, u: { requests: number }) => n + u.requests, 0)).toBe(r.requests.sent);
    expect(r.users.list.at(-1)).toMatchObject({ user: null, requests: Math.floor(r.requests.sent / 4) });
    expect(r.users.users).toBe(20);
    expect(r.users.movedOff).toBeGreaterThanOrEqual(15);
    expect(r.users.backOnTier).toBeGreaterThanOrEqual(15);
    for (const u of r.users.list.filter((x: { firstTier: string }) => x.firstTier === "gold")) {
      expect(u.changes[0]).toMatchObject({ from: "gold", to: "silver" });
    }
  }, 45_000);

  it("refuses a bad flag with a usage error naming it, before touching the mesh", async () => {
    const res = await drill(["--config", m.file, "--tier", "gold", "--fault", "meteor", "--duration", "2s", "--rate", "20"]);
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/^tiermesh: --fault: expected one of down, hang, slow, 429, errors, got "meteor"\nusage: tiermesh drill /);
  });
});

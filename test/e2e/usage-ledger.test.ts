import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
/** Router.Complete's answer as the gRPC test client gives it (field names as in the proto). */
interface Answer {
  routing: { requested_tier: string };
  usage: { prompt_tokens: number; completion_tokens: number };
  cost_usd: number;
}
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { routerClient, unary } from "../support/grpc-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

const root = fileURLToPath(new URL("../../", import.meta.url));
const cli = join(root, "services/cli/dist/main.js");
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface JsonRow {
  tenant: string;
  tier: string;
  requests: number;
  ok: number;
  failed: number;
  ttft_slo_met_share: number;
  served_entitled_share: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

async function reportJson(
  configFile: string,
): Promise<{ rows: JsonRow[]; budgets: { tenant: string; monthly_budget_usd: number; cost_usd: number }[] }> {
  const { stdout } = await run(process.execPath, [cli, "report", "--config", configFile, "--tenant", "acme", "--format", "json"], {
    cwd: root,
    timeout: 20_000,
  });
  return JSON.parse(stdout);
}

async function spendMetric(routerUrl: string): Promise<number | undefined> {
  const text = await (await fetch(`${routerUrl}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith("tiermesh_router_tenant_spend_usd{") && l.includes('tenant="acme"'));
  return line ? Number(line.split(" ").at(-1)) : undefined;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe().catch(() => undefined);
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe("usage ledger and SLA report, whole mesh", () => {
  let m: RunningMesh;
  beforeAll(async () => {
    m = await startMesh({ patch: (raw) => (raw.plans.enterprise.budget = { monthly_usd: 1_000 }) });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("reports what the requests truly did, and a restarted router keeps the month's spend", async () => {
    const client = routerClient(m.routerUrl);
    const truth = new Map<string, { requests: number; prompt: number; completion: number; cost: number }>();
    for (let i = 0; i < 30; i++) {
      const urgency = i % 3 === 0 ? "batch" : "interactive";
      const res = await unary<Answer>(client, "Complete", {
        input: { messages: [{ role: "user", content: `Request ${i}` }], urgency, user: `u${i % 4}` },
      });
      const t = truth.get(res.routing.requested_tier) ?? { requests: 0, prompt: 0, completion: 0, cost: 0 };
      t.requests++;
      t.prompt += res.usage.prompt_tokens;
      t.completion += res.usage.completion_tokens;
      t.cost += res.cost_usd;
      truth.set(res.routing.requested_tier, t);
    }
    const total = [...truth.values()].reduce((a, t) => a + t.cost, 0);
    const report = await until("every request in the report", async () => {
      const r = await reportJson(m.file);
      return r.rows.find((row) => row.tier === "*")?.requests === 30 ? r : undefined;
    });
    for (const [tier, t] of truth) {
      const row = report.rows.find((r) => r.tier === tier)!;
      expect(row).toMatchObject({
        tenant: "acme",
        requests: t.requests,
        ok: t.requests,
        failed: 0,
        prompt_tokens: t.prompt,
        completion_tokens: t.completion,
      });
      expect(row.cost_usd).toBeCloseTo(t.cost, 9);
      // The simulated models answer within milliseconds, far inside every tier's TTFT objective.
      expect(row.ttft_slo_met_share).toBe(1);
      expect(row.served_entitled_share).toBe(1);
    }
    expect(report.budgets[0]).toMatchObject({ tenant: "acme", monthly_budget_usd: 1_000 });
    expect(report.budgets[0]!.cost_usd).toBeCloseTo(total, 9);

    // The table names the tenant and its tiers.
    const { stdout } = await run(process.execPath, [cli, "report", "--config", m.file, "--tenant", "acme"], { cwd: root, timeout: 20_000 });
    expect(stdout).toMatch(/acme\s+enterprise\s+gold\s+20\s/);
    expect(stdout).toMatch(/acme: \$\d+\.\d{4} of \$1000\.0000 monthly budget/);

    // Rebuilt from the stream, the aggregates say the same.
    const rebuilt = await run(process.execPath, [cli, "ledger", "rebuild", "--config", m.file], {
      cwd: root,
      timeout: 20_000,
      env: { ...process.env, TIERMESH_NATS_URL: m.mesh.natsUrl },
    });
    expect(rebuilt.stdout).toMatch(/^removed \d+ aggregate keys/);
    const again = await until("the aggregates rebuilt", async () => {
      const r = await reportJson(m.file);
      return r.rows.find((row) => row.tier === "*")?.requests === 30 ? r : undefined;
    });
    expect(again.rows).toEqual(report.rows);

    // Kill the process holding the router (the launcher starts it again): the spend survives.
    // Each router counts its own records until the aggregates have held them a little while, then only the aggregates.
    await until("the router's spend settled on the aggregates", async () => {
      const v = await spendMetric(m.routerUrl);
      return v !== undefined && Math.abs(v - total) < 1e-9 ? v : undefined;
    });
    const host = m.mesh.processes.get("router") ?? m.mesh.processes.get("tiermesh")!;
    const pid = host.child.pid;
    host.child.kill("SIGKILL");
    await until("the router restarted", async () => {
      const now = m.mesh.processes.get("router") ?? m.mesh.processes.get("tiermesh");
      return now && now.child.pid !== pid ? true : undefined;
    });
    const after = await until("the spend after the restart", async () => {
      const v = await spendMetric(m.routerUrl);
      return v !== undefined && Math.abs(v - total) < 1e-9 ? v : undefined;
    });
    expect(after).toBeCloseTo(total, 9);
  }, 120_000);
});

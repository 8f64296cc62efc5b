import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { HealthMonitorService, JobState } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jobClient, jobIn, jobSpec, jobStoreReady, until } from "../support/job-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

const cli = fileURLToPath(import.meta.resolve("@tiermesh/cli/main"));

/** The value of one sample of a /metrics page, or undefined. */
async function sample(url: string, series: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("a tier's job backlog: metrics, tier status and tiermesh status", () => {
  let m: RunningMesh;

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.bronze.async = { enabled: true, max_concurrency: 1, ack_wait_ms: 5_000 };
        raw.simulator.models["sim-bronze"].ttft_ms = { median: 400, p99: 400 };
      },
    });
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("shows queued jobs and the oldest one's age while bronze drains them, then their throughput", async () => {
    const jobs = jobClient(m.routerUrl);
    await jobStoreReady(jobs);
    const ids = (await jobs.submitJobs({ jobs: Array.from({ length: 8 }, (_, i) => jobSpec(`backlog-${Date.now()}-${i}`)) })).jobs.map(
      (s) => s.job!.id,
    );
    const queued = await until("router shows bronze's backlog", async () => {
      const v = await sample(m.routerUrl, 'tiermesh_jobs_queued{tier="bronze",service="router"}');
      return v !== undefined && v > 0 ? v : undefined;
    });
    expect(queued).toBeLessThanOrEqual(8);
    expect(await sample(m.routerUrl, 'tiermesh_router_jobs_submitted_total{tier="bronze",duplicate="false",service="router"}')).toBe(8);
    const age = await until("executor shows the oldest job's age", async () => {
      const v = await sample(m.executorUrls["bronze"]!, 'tiermesh_jobs_oldest_queued_age_seconds{tier="bronze",service="tier-executor"}');
      return v !== undefined && v > 0 ? v : undefined;
    });
    expect(age).toBeGreaterThan(0);
    expect(
      await sample(m.executorUrls["bronze"]!, 'tiermesh_executor_jobs_running{service="tier-executor",tier="bronze"}'),
    ).toBeLessThanOrEqual(1);

    const monitor = createClient(HealthMonitorService, createConnectTransport({ baseUrl: m.monitorUrl, httpVersion: "1.1" }));
    const status = await until("bronze's tier status carries its backlog", async () => {
      const { tiers } = await monitor.getStatus({});
      const bronze = tiers.find((t) => t.tier === "bronze");
      return bronze?.jobs && bronze.jobs.queued + bronze.jobs.inProgress > 0 ? bronze : undefined;
    });
    expect(status.jobs!.oldestQueuedAgeMs).toBeGreaterThan(0n);
    expect((await monitor.getStatus({})).tiers.find((t) => t.tier === "gold")?.jobs).toBeUndefined();
    const { stdout } = await promisify(execFile)(process.execPath, [cli, "status", "--config", m.file]);
    expect(stdout).toMatch(/bronze[\s\S]*jobs: queued=\d+ running=\d+ oldest=[\d.]+s dead=0/);

    for (const id of ids) await jobIn(jobs, id, JobState.SUCCEEDED, 30_000);
    expect(
      await sample(m.executorUrls["bronze"]!, 'tiermesh_executor_jobs_total{outcome="succeeded",service="tier-executor",tier="bronze"}'),
    ).toBe(8);
    await until("the backlog drained", async () =>
      (await sample(m.routerUrl, 'tiermesh_jobs_queued{tier="bronze",service="router"}')) === 0 ? true : undefined,
    );
  });
});

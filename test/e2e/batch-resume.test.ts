import OpenAI, { toFile } from "openai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { hashApiKey } from "@tiermesh/config";
import { batchRecordSchema, FileStore, JobStore, JsonRecords, type BatchRecord } from "@tiermesh/jobs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../support/job-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

// Runs in the "mesh" project only: it kills the router.
const KEY = "tm_test_key_for_the_batch_tenant_0123456789abcdef";
/** Lines of the batch: enough that validating it takes seconds, so the router is killed half-way. */
const LINES = 4_000;
const RETENTION_MS = 48 * 3_600_000;

/** The value of one sample of a /metrics page, or undefined (no page: the router is down). */
async function sample(url: string, series: string): Promise<number | undefined> {
  const text = await fetch(`${url}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("a batch whose router is killed while validating it", () => {
  let m: RunningMesh;
  let client: OpenAI;
  let nc: NatsConnection;
  let records: JsonRecords<BatchRecord>;
  let jobStore: JobStore;
  let files: FileStore;

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.router.batch_resume = { sweep_ms: 500, orphan_ms: 3_000 };
        raw.tiers.bronze.async = { enabled: true, max_concurrency: 32, ack_wait_ms: 5_000, retention_hours: 48 };
        raw.simulator.models["sim-bronze"].ttft_ms = { median: 1, p99: 2 };
        raw.simulator.models["sim-bronze"].output_tokens = { min: 2, max: 4 };
        raw.tenants.acme.api_key_sha256 = [hashApiKey(KEY)];
      },
    });
    client = new OpenAI({ apiKey: KEY, baseURL: `${m.routerUrl}/v1`, maxRetries: 0 });
    nc = await connect({ servers: m.mesh.natsUrl });
    records = await JsonRecords.open(nc, "tiermesh_jobs", RETENTION_MS, "batches", (v) => batchRecordSchema.parse(v));
    jobStore = await JobStore.open(nc, "tiermesh_jobs", RETENTION_MS);
    files = await FileStore.open(nc, "tiermesh_files", RETENTION_MS);
  });
  afterAll(async () => {
    await nc?.close();
    await m?.stop();
  });

  /** The tenant's jobs that belong to the batch, read from the bucket. */
  const jobsOf = async (batchId: string) => {
    const all = await Promise.all((await jobStore.ids("acme")).map((id) => jobStore.get("acme", id)));
    return all.filter((j) => j?.metadata["batch_id"] === batchId);
  };

  it("is resumed in the background by the router started again and completes with every line's result once, never polled", async () => {
    const input = Array.from({ length: LINES }, (_, i) =>
      JSON.stringify({
        custom_id: `k-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "auto", messages: [{ role: "user", content: `item ${i} ${"lorem ipsum ".repeat(20)}` }] },
      }),
    ).join("\n");
    const file = await client.files.create({ file: await toFile(Buffer.from(input), "big.jsonl"), purpose: "batch" });
    const router = m.mesh.status().find((p) => p.name === "router")!;
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });

    // Kill the router as soon as the first line's job is stored.
    await until(
      "first line queued",
      async () => {
        const id = await jobStore.find("acme", `${batch.id}/k-0`);
        return id === undefined ? undefined : jobStore.get("acme", id);
      },
      30_000,
    );
    process.kill(router.pid!, "SIGKILL");
    const left = await records.get("acme", batch.id);
    expect(left?.status).toBe("validating");
    const queuedBefore = (await jobsOf(batch.id)).length;
    expect(queuedBefore).toBeGreaterThan(0);
    expect(queuedBefore).toBeLessThan(LINES);

    // The launcher starts a router again; nobody asks for the batch from here on.
    await until(
      "router restarted",
      async () => {
        const p = m.mesh.status().find((s) => s.name === "router")!;
        return p.restarts === 1 && p.pid !== undefined && p.pid !== router.pid ? p : undefined;
      },
      30_000,
    );
    const done = await until(
      "batch completed on NATS",
      async () => {
        const b = await records.get("acme", batch.id);
        return b?.status === "completed" ? b : undefined;
      },
      240_000,
    );
    expect(done).toMatchObject({ total: LINES, completed: LINES, failed: 0, error_file_id: null });
    expect(done.jobs).toHaveLength(LINES);

    // Every custom_id is one job, and one line of the output file.
    const jobs = await jobsOf(batch.id);
    expect(jobs).toHaveLength(LINES);
    expect(new Set(jobs.map((j) => j!.metadata["custom_id"])).size).toBe(LINES);
    const output = new TextDecoder()
      .decode(await files.content("acme", done.output_file_id!))
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { custom_id: string; response: { status_code: number } | null; error: unknown });
    expect(output.map((l) => l.custom_id)).toEqual(Array.from({ length: LINES }, (_, i) => `k-${i}`));
    for (const l of output) expect(l).toMatchObject({ response: { status_code: 200 }, error: null });

    // The router started again resumed it from its sweep, and says so.
    expect(await sample(m.routerUrl, 'tiermesh_router_batches_resumed_total{by="sweep",service="router"}')).toBe(1);
    expect(await sample(m.routerUrl, 'tiermesh_router_batches_resumed_total{by="request",service="router"}')).toBe(0);
    expect(m.output.some((l) => l.includes("resuming a batch left validating") && l.includes(batch.id))).toBe(true);
  }, 300_000);
});

import OpenAI, { toFile } from "openai";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { hashApiKey } from "@tiermesh/config";
import { batchRecordSchema, JobStore, JsonRecords, type BatchRecord } from "@tiermesh/jobs";
import { JobState } from "@tiermesh/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../support/job-clients.js";
import { patchModel, startMesh, type RunningMesh } from "../support/running-mesh.js";

const KEY = "tm_test_key_for_the_batch_tenant_0123456789abcdef";

interface OutputLine {
  id: string;
  custom_id: string;
  response: { status_code: number; request_id: string; body: { model: string; choices: { message: { content: string } }[] } } | null;
  error: { code: string; message: string } | null;
}

const lines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as OutputLine);

describe("the OpenAI Batch API on the HTTP edge, with the official openai client", () => {
  let m: RunningMesh;
  let client: OpenAI;
  let nc: NatsConnection;
  /** The batch records and jobs as kept on NATS, read without asking the router (which would end a batch itself). */
  let records: JsonRecords<BatchRecord>;
  let jobStore: JobStore;
  const RETENTION_MS = 48 * 3_600_000;
  const jsonl = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({
        custom_id: `${prefix}-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "auto", messages: [{ role: "user", content: `${prefix} item ${i}` }] },
      }),
    ).join("\n");
  const recordIn = (id: string, status: string, timeoutMs = 30_000) =>
    until(
      `batch ${id} ${status} on NATS`,
      async () => {
        const b = await records.get("acme", id);
        return b?.status === status ? b : undefined;
      },
      timeoutMs,
    );

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.bronze.async = { enabled: true, max_concurrency: 4, ack_wait_ms: 5_000, retention_hours: 48 };
        raw.tenants.acme.api_key_sha256 = [hashApiKey(KEY)];
      },
    });
    client = new OpenAI({ apiKey: KEY, baseURL: `${m.routerUrl}/v1`, maxRetries: 0 });
    nc = await connect({ servers: m.mesh.natsUrl });
    records = await JsonRecords.open(nc, "tiermesh_jobs", RETENTION_MS, "batches", (v) => batchRecordSchema.parse(v));
    jobStore = await JobStore.open(nc, "tiermesh_jobs", RETENTION_MS);
  });
  afterAll(async () => {
    await nc?.close();
    await m?.stop();
  });

  it("uploads a JSONL file, runs it as a batch and gives output and error files matching the inputs by custom_id", async () => {
    const request = (id: string, content: string) => ({
      custom_id: id,
      method: "POST",
      url: "/v1/chat/completions",
      body: { model: "auto", messages: [{ role: "user", content }] },
    });
    const good = Array.from({ length: 6 }, (_, i) => request(`req-${i}`, `question number ${i}`));
    const input = [
      ...good.slice(0, 3).map((l) => JSON.stringify(l)),
      "{ this is not json",
      JSON.stringify({ ...request("refused", "hi"), body: { model: "auto", messages: [{ role: "user", content: "hi" }], n: 3 } }),
      ...good.slice(3).map((l) => JSON.stringify(l)),
    ].join("\n");
    const file = await client.files.create({ file: await toFile(Buffer.from(input), "requests.jsonl"), purpose: "batch" });
    expect(file).toMatchObject({ object: "file", purpose: "batch", filename: "requests.jsonl", bytes: Buffer.byteLength(input) });
    expect((await client.files.retrieve(file.id)).id).toBe(file.id);
    expect(await (await client.files.content(file.id)).text()).toBe(input);

    const created = await client.batches.create({
      input_file_id: file.id,
      endpoint: "/v1/chat/completions",
      completion_window: "24h",
      metadata: { run: "e2e" },
    });
    expect(created).toMatchObject({ object: "batch", status: "validating", input_file_id: file.id, metadata: { run: "e2e" } });
    const done = await until(
      "batch completed",
      async () => {
        const b = await client.batches.retrieve(created.id);
        return b.status === "completed" ? b : undefined;
      },
      60_000,
    );
    expect(done.request_counts).toEqual({ total: 8, completed: 6, failed: 2 });
    expect(done.in_progress_at).toBeGreaterThan(0);
    expect(done.completed_at).toBeGreaterThan(0);

    const output = lines(await (await client.files.content(done.output_file_id!)).text());
    expect(output.map((l) => l.custom_id).sort()).toEqual(good.map((l) => l.custom_id).sort());
    for (const line of output) {
      expect(line.error).toBeNull();
      expect(line.response!.status_code).toBe(200);
      expect(line.response!.body.model).toBe("sim-bronze");
      expect(line.response!.body.choices[0]!.message.content.length).toBeGreaterThan(0);
    }
    const errors = lines(await (await client.files.content(done.error_file_id!)).text());
    expect(errors.map((e) => [e.custom_id, e.error!.code])).toEqual([
      [null, "invalid_json"],
      ["refused", "unsupported_parameter"],
    ]);

    const listed = await client.batches.list({ limit: 10 });
    expect(listed.data.map((b) => b.id)).toContain(created.id);
  });

  it("cancels a batch: it ends cancelled", async () => {
    const input = Array.from({ length: 40 }, (_, i) =>
      JSON.stringify({
        custom_id: `c-${i}`,
        method: "POST",
        url: "/v1/chat/completions",
        body: { model: "auto", messages: [{ role: "user", content: `item ${i}` }] },
      }),
    ).join("\n");
    const file = await client.files.create({ file: await toFile(Buffer.from(input), "cancel.jsonl"), purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    await until("batch in progress", async () => ((await client.batches.retrieve(batch.id)).status === "in_progress" ? true : undefined));
    const cancelling = await client.batches.cancel(batch.id);
    expect(["cancelling", "cancelled"]).toContain(cancelling.status);
    const ended = await until(
      "batch cancelled",
      async () => {
        const b = await client.batches.retrieve(batch.id);
        return b.status === "cancelled" ? b : undefined;
      },
      30_000,
    );
    expect(ended.request_counts!.total).toBe(40);
    expect(ended.request_counts!.completed + ended.request_counts!.failed).toBe(40);
  });

  it("ends a batch in the background: a caller who never asks meanwhile finds it completed, its files ready", async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from(jsonl("bg", 5)), "bg.jsonl"), purpose: "batch" });
    const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
    // No call to the router until the leading monitor has ended it.
    const ended = await recordIn(batch.id, "completed");
    const seenAt = Math.ceil(Date.now() / 1_000);
    await new Promise((r) => setTimeout(r, 1_500));
    const got = await client.batches.retrieve(batch.id);
    expect(got).toMatchObject({
      status: "completed",
      completed_at: ended.completed_at,
      request_counts: { total: 5, completed: 5, failed: 0 },
    });
    expect(got.completed_at).toBeLessThanOrEqual(seenAt);
    const output = lines(await (await client.files.content(got.output_file_id!)).text());
    expect(output.map((l) => l.custom_id)).toEqual(["bg-0", "bg-1", "bg-2", "bg-3", "bg-4"]);
    expect(got.error_file_id).toBeNull();
  });

  it("expires a batch whose completion window passed: finished requests in the output file, the rest expired", async () => {
    await patchModel(m.simulatorUrl, "sim-bronze", { ttft_ms: { median: 1_500, p99: 1_500 } });
    try {
      const file = await client.files.create({ file: await toFile(Buffer.from(jsonl("exp", 12)), "exp.jsonl"), purpose: "batch" });
      const batch = await client.batches.create({ input_file_id: file.id, endpoint: "/v1/chat/completions", completion_window: "24h" });
      const running = await recordIn(batch.id, "in_progress");
      await until("a first request done", async () => {
        const jobs = await Promise.all(running.jobs.map((j) => jobStore.get("acme", j.job_id)));
        return jobs.some((j) => j?.state === JobState.SUCCEEDED) ? true : undefined;
      });
      // As if 24 hours had gone by.
      await records.update("acme", batch.id, (b) => ({ ...b, expires_at: Math.floor(Date.now() / 1_000) - 1 }));
      const ended = await recordIn(batch.id, "expired");
      expect(ended.expired_at).toBeGreaterThan(0);
      const got = await client.batches.retrieve(batch.id);
      expect(got.status).toBe("expired");
      const output = lines(await (await client.files.content(got.output_file_id!)).text());
      const errors = lines(await (await client.files.content(got.error_file_id!)).text());
      expect(output.length).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      expect(output.length + errors.length).toBe(12);
      expect(new Set(errors.map((e) => e.error!.code))).toEqual(new Set(["batch_expired"]));
      expect(got.request_counts).toEqual({ total: 12, completed: output.length, failed: errors.length });
    } finally {
      await patchModel(m.simulatorUrl, "sim-bronze", { ttft_ms: { median: 5, p99: 20 } });
    }
  });

  it("refuses another endpoint or completion window, and a purpose other than batch", async () => {
    const file = await client.files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "batch" });
    await expect(
      client.batches.create({ input_file_id: file.id, endpoint: "/v1/embeddings", completion_window: "24h" }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(client.files.create({ file: await toFile(Buffer.from("{}\n"), "x.jsonl"), purpose: "fine-tune" })).rejects.toMatchObject({
      status: 400,
    });
    await expect(client.batches.retrieve("batch_nope")).rejects.toMatchObject({ status: 404 });
  });
});

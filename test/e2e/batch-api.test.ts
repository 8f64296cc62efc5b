import OpenAI, { toFile } from "openai";
import { hashApiKey } from "@tiermesh/config";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../support/job-clients.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

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

  beforeAll(async () => {
    m = await startMesh({
      patch(raw) {
        raw.tiers.bronze.async = { enabled: true, max_concurrency: 4, ack_wait_ms: 5_000, retention_hours: 48 };
        raw.tenants.acme.api_key_sha256 = [hashApiKey(KEY)];
      },
    });
    client = new OpenAI({ apiKey: KEY, baseURL: `${m.routerUrl}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
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

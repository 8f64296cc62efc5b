import { request as httpRequest } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator, simulatorConfigSchema } from "./index.js";

type Simulator = ReturnType<typeof createSimulator>;

interface Completion {
  object: string;
  model: string;
  id: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

interface Chunk {
  object: string;
  choices: { delta: { role?: string; content?: string }; finish_reason: string | null }[];
  usage?: { completion_tokens: number; total_tokens: number } | null;
}

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const config = simulatorConfigSchema.parse({
  models: {
    "sim-fast": {
      ttft_ms: { median: 2, p99: 4 },
      inter_token_ms: { median: 0.5, p99: 1 },
      output_tokens: { min: 10, max: 10 },
    },
    "sim-instant": {
      ttft_ms: { median: 0, p99: 0 },
      inter_token_ms: { median: 0, p99: 0 },
      output_tokens: { min: 48, max: 48 },
    },
  },
});

let sim: Simulator;
let base: string;

beforeEach(async () => {
  sim = createSimulator(config, { random: () => 0.5 });
  base = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
});

afterEach(async () => {
  await sim.close();
});

function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

const messages = [
  { role: "system", content: "be brief" },
  { role: "user", content: "hello simulator" },
];

function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

describe("POST /v1/chat/completions (unary)", () => {
  it("answers a chat.completion with usage", async () => {
    const res = await post("/v1/chat/completions", { model: "sim-fast", messages });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    const body = (await res.json()) as Completion;
    expect(body.object).toBe("chat.completion");
    expect(body.model).toBe("sim-fast");
    expect(body.id).toMatch(/^chatcmpl-/);
    const choice = body.choices[0];
    expect(choice?.message.role).toBe("assistant");
    expect(choice?.message.content.split(" ")).toHaveLength(10);
    expect(choice?.finish_reason).toBe("stop");
    // ceil((8 + 15) / 4) + 4 * 2
    expect(body.usage).toEqual({ prompt_tokens: 14, completion_tokens: 10, total_tokens: 24 });
  });

  it("caps the length at max_tokens with finish_reason length", async () => {
    const res = await post("/v1/chat/completions", { model: "sim-fast", messages, max_tokens: 3 });
    const body = (await res.json()) as Completion;
    expect(body.choices[0]?.finish_reason).toBe("length");
    expect(body.usage.completion_tokens).toBe(3);
    expect(body.choices[0]?.message.content.split(" ")).toHaveLength(3);

    const uncapped = await post("/v1/chat/completions", {
      model: "sim-fast",
      messages,
      max_completion_tokens: 50,
    });
    expect(((await uncapped.json()) as Completion).choices[0]?.finish_reason).toBe("stop");
  });

  it("answers a zero-latency profile without added delay", async () => {
    await post("/v1/chat/completions", { model: "sim-instant", messages }); // warm the connection
    const started = performance.now();
    for (let i = 0; i < 20; i += 1) {
      const res = await post("/v1/chat/completions", { model: "sim-instant", messages, stream: i % 2 === 0 });
      await res.text();
    }
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("POST /v1/chat/completions (stream)", () => {
  it("streams role, tokens, finish, usage and [DONE]", async () => {
    const res = await post("/v1/chat/completions", {
      model: "sim-fast",
      messages,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    expect(chunks).toHaveLength(1 + 10 + 1 + 1);
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const tokens = chunks.slice(1, 11).map((c) => c.choices[0]?.delta.content ?? "");
    expect(tokens.join("").split(" ")).toHaveLength(10);
    expect(chunks[11]?.choices[0]?.finish_reason).toBe("stop");
    expect(chunks[12]?.choices).toEqual([]);
    expect(chunks[12]?.usage).toMatchObject({ completion_tokens: 10, total_tokens: 24 });
  });

  it("omits the usage chunk unless asked and honours max_tokens", async () => {
    const res = await post("/v1/chat/completions", { model: "sim-fast", messages, stream: true, max_tokens: 2 });
    const data = sseData(await res.text());
    expect(data.at(-1)).toBe("[DONE]");
    const chunks = data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
    expect(chunks).toHaveLength(1 + 2 + 1);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe("length");
    expect(chunks.every((c) => c.usage === undefined)).toBe(true);
  });
});

describe("request validation and routing", () => {
  it("answers 400 naming the bad field", async () => {
    const res = await post("/v1/chat/completions", {
      model: "sim-fast",
      messages: [{ role: "user", content: 42 }],
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.param).toBe("messages[0].content");
    expect(body.error.message).toContain("messages[0].content");
    expect(body.error.code).toBeNull();
  });

  it("answers 400 for a missing field and for bad JSON", async () => {
    const missing = (await (await post("/v1/chat/completions", { messages })).json()) as ErrorBody;
    expect(missing.error.param).toBe("model");
    const bad = await post("/v1/chat/completions", "{not json");
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.message).toContain("JSON");
  });

  it("answers 404 model_not_found for an unknown model", async () => {
    const res = await post("/v1/chat/completions", { model: "gpt-nope", messages });
    expect(res.status).toBe(404);
    const body = (await res.json()) as ErrorBody;
    expect(body.error.code).toBe("model_not_found");
    expect(body.error.param).toBe("model");
  });

  it("answers 413 for bodies over 4 MiB", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-length": String(5 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.write("x".repeat(1024)); // the rest is never sent: the server must not wait for it
    });
    expect(status).toBe(413);
  });

  it("answers 413 for chunked bodies that grow too large", async () => {
    const huge = JSON.stringify({ model: "sim-fast", messages: [{ role: "user", content: "x".repeat(5 * 1024 * 1024) }] });
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${base}/v1/chat/completions`, { method: "POST" });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end(huge);
    });
    expect(status).toBe(413);
  });

  it("lists models, answers health and 404s other paths", async () => {
    const models = (await (await fetch(`${base}/v1/models`)).json()) as { object: string; data: { id: string }[] };
    expect(models.object).toBe("list");
    expect(models.data.map((m) => m.id)).toEqual(["sim-fast", "sim-instant"]);
    const health = await fetch(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");
    const missing = await fetch(`${base}/v2/whatever`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.type).toBe("invalid_request_error");
    expect((await fetch(`${base}/v1/chat/completions`)).status).toBe(405);
  });
});

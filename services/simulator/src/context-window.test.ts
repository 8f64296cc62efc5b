import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator, simulatorConfigSchema } from "./index.js";

// The simulator refuses a request over a model's context window as OpenAI does, logs the
// refusal with the model's requests, and the window can be changed at run time.

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const config = simulatorConfigSchema.parse({
  models: {
    "sim-small": { ttft_ms: { median: 0, p99: 0 }, inter_token_ms: { median: 0, p99: 0 }, context_window: 1_000 },
    "sim-open": { ttft_ms: { median: 0, p99: 0 }, inter_token_ms: { median: 0, p99: 0 } },
  },
});

let sim: ReturnType<typeof createSimulator>;
let base: string;

beforeEach(async () => {
  sim = createSimulator(config, { random: () => 0.5 });
  base = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
});
afterEach(async () => {
  await sim.close();
});

/** A prompt the simulator estimates at `tokens` tokens (4 characters a token, plus 4 for the message). */
const prompt = (tokens: number) => "x".repeat((tokens - 4) * 4);

function complete(model: string, content: string, maxTokens?: number, stream = false): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content }], stream, ...(maxTokens ? { max_tokens: maxTokens } : {}) }),
  });
}

describe("context windows in the simulator", () => {
  it("answers a request whose prompt plus max_tokens is over the window with OpenAI's 400 context_length_exceeded", async () => {
    const res = await complete("sim-small", prompt(900), 200, true);
    expect(res.status).toBe(400);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toEqual({
      message:
        "This model's maximum context length is 1000 tokens. However, you requested 1100 tokens (900 in the messages, 200 in the completion). Please reduce the length of the messages or completion.",
      type: "invalid_request_error",
      param: "messages",
      code: "context_length_exceeded",
    });
  });

  it("serves a request that fits, and any request to a model without a window", async () => {
    expect((await complete("sim-small", prompt(900), 100)).status).toBe(200);
    expect((await complete("sim-open", prompt(50_000), 4_000)).status).toBe(200);
  });

  it("logs a refusal for length in GET /admin/requests", async () => {
    await complete("sim-small", prompt(900), 200);
    await complete("sim-small", prompt(10), 10);
    const res = await fetch(`${base}/admin/requests`);
    expect(res.status).toBe(200);
    const log = (await res.json()) as Record<string, { requests: number; recent: { answer: string; max_tokens: number | null }[] }>;
    expect(log["sim-small"]?.requests).toBe(2);
    expect(log["sim-small"]?.recent.map((r) => `${r.answer}:${r.max_tokens}`)).toEqual(["context_length_exceeded:200", "ok:10"]);
  });

  it("takes a new window, or none, at run time; refuses a window that is not a positive whole number", async () => {
    const patch = (body: unknown) =>
      fetch(`${base}/admin/models/sim-open`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await patch({ context_window: 500 })).status).toBe(200);
    expect((await complete("sim-open", prompt(600))).status).toBe(400);
    expect((await patch({ context_window: null })).status).toBe(200);
    expect((await complete("sim-open", prompt(600))).status).toBe(200);
    const bad = await patch({ context_window: 0 });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as ErrorBody).error.param).toBe("context_window");
  });

  it("validates the window in config, naming the field", () => {
    const r = simulatorConfigSchema.safeParse({ models: { m: { context_window: 1.5 } } });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0]!.path).toEqual(["models", "m", "context_window"]);
  });
});

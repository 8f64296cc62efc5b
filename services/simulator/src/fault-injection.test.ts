import type { IncomingMessage, ServerResponse } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSimulator, simulatorConfigSchema } from "./index.js";

type Simulator = ReturnType<typeof createSimulator>;

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

const fast = {
  ttft_ms: { median: 1, p99: 2 },
  inter_token_ms: { median: 1, p99: 2 },
  output_tokens: { min: 10, max: 10 },
};

const config = simulatorConfigSchema.parse({
  models: {
    "sim-outage": { ...fast, outage: true, hang_rate: 1, error_rate: 1 },
    "sim-429": { ...fast, rate_limit_rate: 1, error_rate: 1, retry_after_s: 7 },
    "sim-500": { ...fast, error_rate: 1 },
    "sim-hang": { ...fast, hang_rate: 1 },
    "sim-cut": { ...fast, stream_cut_rate: 1 },
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

function complete(model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], ...extra }),
    ...(signal ? { signal } : {}),
  });
}

/** Resolves when the server starts its next response, with a promise for that response's `close`. */
function nextResponse(): Promise<{ closed: Promise<void> }> {
  return new Promise((resolve) => {
    sim.server.once("request", (_req: IncomingMessage, res: ServerResponse) => {
      resolve({ closed: new Promise((closed) => res.once("close", () => closed())) });
    });
  });
}

describe("fault injection", () => {
  it("answers 503 during an outage, before any other fault", async () => {
    const res = await complete("sim-outage");
    expect(res.status).toBe(503);
    expect(((await res.json()) as ErrorBody).error.type).toBe("server_error");
  });

  it("answers 429 with Retry-After, before errors", async () => {
    const res = await complete("sim-429");
    expect(res.status).toBe(429);
    expect(res.headers.get("retry-after")).toBe("7");
    expect(((await res.json()) as ErrorBody).error.code).toBe("rate_limit_exceeded");
  });

  it("answers 500 with an OpenAI error body at error_rate 1", async () => {
    const res = await complete("sim-500", { stream: true });
    expect(res.status).toBe(500);
    const body = (await res.json()) as ErrorBody;
    expect(body.error).toMatchObject({ type: "server_error", param: null });
  });

  it("hangs until the client aborts, then cleans up", async () => {
    const started = Date.now();
    const accepted = nextResponse();
    await expect(complete("sim-hang", {}, AbortSignal.timeout(200))).rejects.toThrow();
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    await (await accepted).closed; // the server noticed the client leaving
    const closing = Date.now();
    await sim.close();
    expect(Date.now() - closing).toBeLessThan(200);
  });

  it("close() destroys a hanging request promptly", async () => {
    const accepted = nextResponse();
    const pending = complete("sim-hang");
    pending.catch(() => undefined);
    const { closed } = await accepted;
    const closing = Date.now();
    await sim.close();
    expect(Date.now() - closing).toBeLessThan(200);
    await closed;
    await expect(pending).rejects.toThrow();
  });

  it("cuts a stream after about half the tokens, without [DONE]", async () => {
    const res = await complete("sim-cut", { stream: true });
    expect(res.status).toBe(200);
    const body = res.body;
    if (body === null) throw new Error("no body");
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    let failed = false;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += value;
      }
    } catch {
      failed = true;
    }
    expect(failed).toBe(true);
    expect(text).not.toContain("[DONE]");
    const contentChunks = text.split("\n\n").filter((e) => e.startsWith("data: ") && e.includes('"content":"'));
    // role chunk (content "") + 5 of the 10 tokens
    expect(contentChunks).toHaveLength(1 + 5);
  });

  it("does not cut unary answers", async () => {
    const res = await complete("sim-cut");
    expect(res.status).toBe(200);
    await res.json();
  });
});

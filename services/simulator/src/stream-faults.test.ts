import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { completionTokens } from "./completion-plan.js";
import { createSimulator, simulatorConfigSchema } from "./index.js";

// Stream faults a provider shows mid-answer, and assistant-prefix continuation.

const fast = {
  ttft_ms: { median: 1, p99: 2 },
  inter_token_ms: { median: 1, p99: 2 },
  output_tokens: { min: 10, max: 10 },
};

const config = simulatorConfigSchema.parse({
  models: {
    "sim-ok": fast,
    "sim-stall": { ...fast, stream_stall_rate: 1, fault_after_tokens: 3 },
    "sim-malformed": { ...fast, malformed_chunk_rate: 1, fault_after_tokens: 4 },
    "sim-no-done": { ...fast, missing_done_rate: 1 },
    "sim-no-prefill": { ...fast, refuse_prefix: true },
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

function complete(model: string, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${base}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model, messages: [{ role: "user", content: "hi" }], stream: true, ...extra }),
    ...(signal ? { signal } : {}),
  });
}

/** The SSE data lines of a whole body. */
async function dataLines(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split("\n\n")
    .filter((e) => e.startsWith("data: "))
    .map((e) => e.slice("data: ".length));
}

/** The text of the content deltas among `lines`, skipping lines that are not JSON. */
function content(lines: readonly string[]): string {
  let text = "";
  for (const line of lines) {
    try {
      const chunk = JSON.parse(line) as { choices?: { delta?: { content?: string } }[] };
      text += chunk.choices?.[0]?.delta?.content ?? "";
    } catch {
      // not JSON
    }
  }
  return text;
}

describe("stream faults", () => {
  it("stalls after fault_after_tokens tokens with the connection open", async () => {
    const controller = new AbortController();
    const res = await complete("sim-stall", {}, controller.signal);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    // Read until three tokens arrived, then make sure nothing else comes for a while.
    while ((text.match(/"content":"[^"]/g) ?? []).length < 3) text += (await reader.read()).value ?? "";
    const more = await Promise.race([reader.read().then(() => "more"), new Promise((r) => setTimeout(() => r("silent"), 150))]);
    expect(more).toBe("silent");
    expect(text).not.toContain('finish_reason":"stop');
    controller.abort();
  });

  it("sends one malformed chunk at the fault point and then the whole answer", async () => {
    const lines = await dataLines(await complete("sim-malformed"));
    const bad = lines.filter((l) => l !== "[DONE]" && !isJson(l));
    expect(bad).toHaveLength(1);
    // role chunk, 4 tokens, then the bad one
    expect(lines.indexOf(bad[0]!)).toBe(5);
    expect(content(lines)).toBe(completionTokens(10).join(""));
    expect(lines.at(-1)).toBe("[DONE]");
  });

  it("ends with the finish reason and usage but no [DONE] at missing_done_rate 1", async () => {
    const lines = await dataLines(await complete("sim-no-done", { stream_options: { include_usage: true } }));
    expect(lines).not.toContain("[DONE]");
    expect(JSON.parse(lines.at(-1)!)).toMatchObject({ choices: [], usage: { completion_tokens: 10 } });
    expect(JSON.parse(lines.at(-2)!)).toMatchObject({ choices: [{ finish_reason: "stop" }] });
  });
});

describe("assistant prefix", () => {
  const prefixed = (prefix: string) => ({
    messages: [
      { role: "user", content: "hi" },
      { role: "assistant", content: prefix },
    ],
  });

  it("continues from the word after the prefix's last, with no gap or repeat", async () => {
    const whole = completionTokens(14);
    const prefix = whole.slice(0, 4).join("");
    const lines = await dataLines(await complete("sim-ok", { ...prefixed(prefix), max_tokens: 10 }));
    expect(prefix + content(lines)).toBe(whole.join(""));
  });

  it("adds no space after a prefix that ends in whitespace", async () => {
    const prefix = `${completionTokens(2).join("")} `;
    const lines = await dataLines(await complete("sim-ok", { ...prefixed(prefix), max_tokens: 1 }));
    expect(prefix + content(lines)).toBe(`${completionTokens(3).join("")}`);
  });

  it("refuses a prefix with 400 when refuse_prefix is set, and answers without one", async () => {
    const refused = await complete("sim-no-prefill", prefixed("the router"));
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("unsupported_prefill");
    expect((await complete("sim-no-prefill")).status).toBe(200);
  });
});

function isJson(line: string): boolean {
  try {
    JSON.parse(line);
    return true;
  } catch {
    return false;
  }
}

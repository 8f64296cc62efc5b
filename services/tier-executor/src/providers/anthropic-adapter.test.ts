import type { ServerResponse } from "node:http";
import type { ProviderConfig } from "@tiermesh/config";
import { StartupError } from "@tiermesh/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import type { ProviderAdapter, ProviderEvent, ProviderRequest } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { closeProviders, startProvider, type Handler } from "./provider-server.test-support.js";
import { providerFactories } from "./registry.js";

// A real HTTP server on 127.0.0.1:0 speaking the Anthropic Messages stream.

const adapters: ProviderAdapter[] = [];

afterEach(async () => {
  // closeProviders drops open connections at once, before the adapters wait for theirs.
  await Promise.all([closeProviders(), ...adapters.splice(0).map((a) => a.close())]);
});

function config(baseUrl: string): ProviderConfig {
  return { kind: "anthropic", base_url: baseUrl, connections: 4 } as ProviderConfig;
}

function adapter(baseUrl: string, apiKey?: string): ProviderAdapter {
  const created = createAnthropicAdapter("test-anthropic", config(baseUrl), apiKey);
  adapters.push(created);
  return created;
}

const request: ProviderRequest = {
  model: "claude-test",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Say hello." },
    { role: "assistant", content: "Hello." },
    { role: "system", content: "Answer in English." },
    { role: "user", content: "Again." },
  ],
  maxTokens: 16,
};

/** Writes one named SSE event the way Anthropic does: `event:` line plus JSON `data:`. */
function send(res: ServerResponse, data: { type: string } & Record<string, unknown>): void {
  res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

function messageStart(res: ServerResponse, inputTokens = 21): void {
  send(res, {
    type: "message_start",
    message: {
      id: "msg_1",
      type: "message",
      role: "assistant",
      content: [],
      model: "claude-test",
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: inputTokens, output_tokens: 1 },
    },
  });
  send(res, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
}

function textDelta(res: ServerResponse, text: string): void {
  send(res, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } });
}

function messageEnd(res: ServerResponse, stopReason: string | null, outputTokens: number): void {
  send(res, { type: "content_block_stop", index: 0 });
  send(res, { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
  send(res, { type: "message_stop" });
}

/** A whole well-formed answer streaming `deltas`, with a ping in the middle as Anthropic sends. */
function answer(deltas: string[], stopReason: string | null = "end_turn"): Handler {
  return (res) => {
    openStream(res);
    messageStart(res);
    send(res, { type: "ping" });
    for (const text of deltas) textDelta(res, text);
    messageEnd(res, stopReason, deltas.length + 4);
    res.end();
  };
}

function jsonError(status: number, type: string, message: string, headers: Record<string, string> = {}): Handler {
  return (res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ type: "error", error: { type, message } }));
  };
}

/** Runs a stream to completion; deltas seen before a failure stay in `deltas`. */
async function collect(
  target: ProviderAdapter,
  signal = new AbortController().signal,
  deltas: string[] = [],
  req = request,
  skipped: string[] = [],
) {
  let done: Extract<ProviderEvent, { type: "done" }> | undefined;
  for await (const event of target.stream(req, signal)) {
    expect(done, "nothing may follow done").toBeUndefined();
    if (event.type === "delta") deltas.push(event.text);
    else if (event.type === "skipped") skipped.push(event.reason);
    else if (event.type === "done") done = event;
  }
  return { deltas, done };
}

async function failure(promise: Promise<unknown>): Promise<ProviderError> {
  const err = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  );
  expect(err).toBeInstanceOf(ProviderError);
  return err as ProviderError;
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe("anthropic adapter", () => {
  it("is registered for kind anthropic", () => {
    expect(providerFactories.anthropic).toBe(createAnthropicAdapter);
  });

  it("yields text deltas in order, then one done with input and output tokens", async () => {
    const provider = await startProvider(answer(["Hel", "lo", ", world"]));
    const { deltas, done } = await collect(adapter(provider.url));
    expect(deltas).toEqual(["Hel", "lo", ", world"]);
    expect(done).toEqual({ type: "done", finishReason: "stop", usage: { promptTokens: 21, completionTokens: 7 }, model: "claude-test" });
  });

  it("maps end_turn and stop_sequence to stop, max_tokens to length, tool_use to tool_calls, and passes other stop reasons through", async () => {
    for (const [stopReason, finishReason] of [
      ["end_turn", "stop"],
      ["max_tokens", "length"],
      ["stop_sequence", "stop"],
      ["tool_use", "tool_calls"],
      ["refusal", "refusal"],
      [null, "stop"],
    ] as const) {
      const provider = await startProvider(answer(["a"], stopReason));
      expect((await collect(adapter(provider.url))).done?.finishReason, String(stopReason)).toBe(finishReason);
    }
  });

  it("ignores non-text deltas and unknown event types", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      messageStart(res);
      send(res, { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: "{}" } });
      send(res, { type: "some_future_event" });
      textDelta(res, "ok");
      messageEnd(res, "end_turn", 2);
      res.end();
    });
    expect((await collect(adapter(provider.url))).deltas).toEqual(["ok"]);
  });

  it("posts to {base_url}/v1/messages with system messages moved to the top-level system string", async () => {
    const provider = await startProvider(answer(["ok"]));
    await collect(adapter(`${provider.url}/`), undefined, [], { ...request, temperature: 0.3 });
    expect(provider.received).toHaveLength(1);
    const [sent] = provider.received;
    expect(sent?.method).toBe("POST");
    expect(sent?.url).toBe("/v1/messages");
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(sent?.headers["anthropic-version"]).toBe("2023-06-01");
    expect(JSON.parse(sent?.body ?? "")).toEqual({
      model: "claude-test",
      max_tokens: 16,
      system: "Be brief.\n\nAnswer in English.",
      messages: [
        { role: "user", content: "Say hello." },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "Again." },
      ],
      temperature: 0.3,
      stream: true,
    });
  });

  it("continues an assistant prefix by default, sent without its trailing whitespace, which the continuation does not repeat", async () => {
    const provider = await startProvider(answer([" \n42", " is it"]));
    const target = adapter(provider.url);
    expect(target.continuesPrefix).toBe(true);
    const prefixed = {
      model: "claude-test",
      messages: [{ role: "user", content: "Answer?" }],
      maxTokens: 8,
      assistantPrefix: "The answer is\n",
    };
    const { deltas } = await collect(target, undefined, [], prefixed);
    expect(deltas).toEqual(["42", " is it"]);
    expect((JSON.parse(provider.received[0]?.body ?? "") as { messages: unknown[] }).messages).toEqual([
      { role: "user", content: "Answer?" },
      { role: "assistant", content: "The answer is" },
    ]);
  });

  it("declares no prefix support with continuation: none", () => {
    const created = createAnthropicAdapter("claude", { ...config("http://127.0.0.1:9"), continuation: "none" }, undefined);
    adapters.push(created);
    expect(created.continuesPrefix).toBe(false);
  });

  it("omits system and temperature when the request has none", async () => {
    const provider = await startProvider(answer(["ok"]));
    await collect(adapter(provider.url), undefined, [], {
      model: "claude-test",
      messages: [{ role: "user", content: "hi" }],
      maxTokens: 8,
    });
    const body = JSON.parse(provider.received[0]?.body ?? "") as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(["max_tokens", "messages", "model", "stream"]);
  });

  it("keeps a base_url path prefix", async () => {
    const provider = await startProvider(answer(["ok"]));
    await collect(adapter(`${provider.url}/anthropic`));
    expect(provider.received[0]?.url).toBe("/anthropic/v1/messages");
  });

  it("refuses a base_url that already ends in /v1, naming the field", () => {
    expect(() => createAnthropicAdapter("claude", config("https://api.anthropic.com/v1/"), "k")).toThrow(StartupError);
    expect(() => createAnthropicAdapter("claude", config("https://api.anthropic.com/v1"), "k")).toThrow(/providers\.claude\.base_url/);
  });

  it("rejects a message role Anthropic has no equivalent for, without calling the provider", async () => {
    const provider = await startProvider(answer(["ok"]));
    const err = await failure(
      collect(adapter(provider.url), undefined, [], { ...request, messages: [{ role: "function", content: "42" }] }),
    );
    expect(err.failure).toBe("client");
    expect(err.message).toContain('"function"');
    expect(provider.received).toHaveLength(0);
  });

  it("sends the API key as x-api-key to the provider and nowhere else", async () => {
    const key = "sk-ant-test-secret-91c2";
    const provider = await startProvider(answer(["ok"]));
    await collect(adapter(provider.url, key));
    const [sent] = provider.received;
    expect(sent?.headers["x-api-key"]).toBe(key);
    expect(sent?.headers["authorization"]).toBeUndefined();
    const { "x-api-key": _, ...otherHeaders } = sent?.headers ?? {};
    expect(JSON.stringify(otherHeaders)).not.toContain(key);
    expect(sent?.body).not.toContain(key);
  });

  it("sends no x-api-key header without a key", async () => {
    const provider = await startProvider(answer(["ok"]));
    await collect(adapter(provider.url));
    expect(provider.received[0]?.headers["x-api-key"]).toBeUndefined();
  });

  it("keeps a multi-byte character whole when a network chunk splits it", async () => {
    const event = Buffer.from(
      `event: content_block_delta\ndata: ${JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "naïve ☕" } })}\n\n`,
    );
    const split = event.indexOf(Buffer.from("☕")) + 2;
    const provider = await startProvider(async (res) => {
      openStream(res);
      messageStart(res);
      res.write(event.subarray(0, split));
      await new Promise((resolve) => setTimeout(resolve, 30));
      res.write(event.subarray(split));
      messageEnd(res, "end_turn", 3);
      res.end();
    });
    expect((await collect(adapter(provider.url))).deltas).toEqual(["naïve ☕"]);
  });

  it("maps 429 to rate_limited with Retry-After in milliseconds", async () => {
    const provider = await startProvider(
      jsonError(429, "rate_limit_error", "Number of requests has exceeded your rate limit", { "retry-after": "3" }),
    );
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("rate_limited");
    expect(err.options.status).toBe(429);
    expect(err.options.retryAfterMs).toBe(3_000);
    expect(err.message).toBe("test-anthropic: HTTP 429: Number of requests has exceeded your rate limit");
  });

  it("maps 503 and 529 to server", async () => {
    for (const status of [503, 529]) {
      const provider = await startProvider(jsonError(status, "overloaded_error", "Overloaded"));
      const err = await failure(collect(adapter(provider.url)));
      expect(err.failure).toBe("server");
      expect(err.options.status).toBe(status);
      expect(err.message).toBe(`test-anthropic: HTTP ${status}: Overloaded`);
    }
  });

  it("maps 400 to client with the provider's message", async () => {
    const provider = await startProvider(jsonError(400, "invalid_request_error", "max_tokens: Field required"));
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("client");
    expect(err.options.status).toBe(400);
    expect(err.message).toBe("test-anthropic: HTTP 400: max_tokens: Field required");
    expect(err.retryable).toBe(false);
  });

  it("maps Anthropic's 400 'prompt is too long' to a context-length refusal, other 400s stay client errors", async () => {
    const provider = await startProvider(jsonError(400, "invalid_request_error", "prompt is too long: 201234 tokens > 200000 maximum"));
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("context_length");
    expect(err.message).toBe("test-anthropic: HTTP 400: prompt is too long: 201234 tokens > 200000 maximum");
    const other = await startProvider(jsonError(400, "invalid_request_error", "messages: roles must alternate"));
    expect((await failure(collect(adapter(other.url)))).failure).toBe("client");
  });

  it("maps a refused connection to network", async () => {
    const provider = await startProvider(answer(["unused"]));
    await provider.close();
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("network");
    expect(err.message).toMatch(/^test-anthropic: /);
  });

  it("fails a stream cut mid-way instead of finishing it", async () => {
    const twoDeltas = deferred();
    const provider = await startProvider(async (res) => {
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
      textDelta(res, "lo");
      await twoDeltas.promise;
      res.socket?.destroy();
    });
    const deltas: string[] = [];
    const signal = new AbortController().signal;
    const err = await failure(
      (async () => {
        for await (const event of adapter(provider.url).stream(request, signal)) {
          expect(event.type).toBe("delta");
          if (event.type === "delta") deltas.push(event.text);
          if (deltas.length === 2) twoDeltas.resolve();
        }
      })(),
    );
    expect(["server", "network"]).toContain(err.failure);
    expect(deltas).toEqual(["Hel", "lo"]);
  });

  it("accepts a stream that ends with a stop reason and usage but without message_stop", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
      send(res, { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 2 } });
      res.end();
    });
    const { deltas, done } = await collect(adapter(provider.url));
    expect(deltas).toEqual(["Hel"]);
    expect(done).toEqual({ type: "done", finishReason: "stop", usage: { promptTokens: 21, completionTokens: 2 }, model: "claude-test" });
  });

  it("fails a stream that ends with neither a stop reason nor message_stop", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
      res.end();
    });
    const deltas: string[] = [];
    const err = await failure(collect(adapter(provider.url), undefined, deltas));
    expect(err.failure).toBe("server");
    expect(err.message).toBe("test-anthropic: stream ended without a stop reason or message_stop");
    expect(deltas).toEqual(["Hel"]);
  });

  it("skips malformed events and finishes the answer", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
      res.write("event: content_block_delta\ndata: {not json\n\n");
      res.write("event: content_block_delta\ndata: null\n\n");
      textDelta(res, "lo");
      messageEnd(res, "end_turn", 3);
      res.end();
    });
    const skipped: string[] = [];
    const { deltas, done } = await collect(adapter(provider.url), undefined, [], request, skipped);
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(skipped).toEqual(['malformed stream event: "{not json"', 'malformed stream event: "null"']);
    expect(done?.finishReason).toBe("stop");
  });

  it.each([
    ["overloaded_error", "server"],
    ["api_error", "server"],
    ["rate_limit_error", "rate_limited"],
    ["invalid_request_error", "client"],
    ["brand_new_error", "server"],
  ] as const)("turns a mid-stream %s event into a %s failure after the deltas before it", async (type, expected) => {
    const provider = await startProvider((res) => {
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
      send(res, { type: "error", error: { type, message: "Something went wrong" } });
      res.end();
    });
    const deltas: string[] = [];
    const err = await failure(collect(adapter(provider.url), undefined, deltas));
    expect(err.failure).toBe(expected);
    expect(err.message).toBe(`test-anthropic: ${type}: Something went wrong`);
    expect(deltas).toEqual(["Hel"]);
  });

  it("throws the abort reason when aborted mid-stream, and closes the connection", async () => {
    const serverSawClose = deferred();
    const provider = await startProvider((res) => {
      res.on("close", () => {
        expect(res.writableEnded).toBe(false);
        serverSawClose.resolve();
      });
      openStream(res);
      messageStart(res);
      textDelta(res, "Hel");
    });
    const controller = new AbortController();
    const reason = new ProviderError("timeout", "test-anthropic: no first token within 10 ms");
    const deltas: string[] = [];
    const err = await failure(
      (async () => {
        for await (const event of adapter(provider.url).stream(request, controller.signal)) {
          if (event.type === "delta") deltas.push(event.text);
          controller.abort(reason);
        }
      })(),
    );
    expect(err).toBe(reason);
    expect(deltas).toEqual(["Hel"]);
    await serverSawClose.promise;
  });

  it("throws the abort reason when aborted before the response starts", async () => {
    const serverSawClose = deferred();
    const provider = await startProvider((res) => {
      res.on("close", () => serverSawClose.resolve());
    });
    const controller = new AbortController();
    const reason = new ProviderError("cancelled", "test-anthropic: caller cancelled");
    setTimeout(() => controller.abort(reason), 30);
    expect(await failure(collect(adapter(provider.url), controller.signal))).toBe(reason);
    await serverSawClose.promise;
  });
});

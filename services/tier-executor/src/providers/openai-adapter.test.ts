import type { ServerResponse } from "node:http";
import type { ProviderConfig } from "@tiermesh/config";
import { afterEach, describe, expect, it } from "vitest";
import { createOpenAIAdapter } from "./openai-adapter.js";
import type { ProviderAdapter, ProviderEvent, ProviderRequest } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { closeProviders, startProvider, type Handler } from "./provider-server.test-support.js";

// A real HTTP server on 127.0.0.1:0 speaking the OpenAI chat completions stream.

const adapters: ProviderAdapter[] = [];

afterEach(async () => {
  // closeProviders drops open connections at once, before the adapters wait for theirs.
  await Promise.all([closeProviders(), ...adapters.splice(0).map((a) => a.close())]);
});

function adapter(baseUrl: string, apiKey?: string, continuation?: ProviderConfig["continuation"]): ProviderAdapter {
  const config = { kind: "openai", base_url: baseUrl, connections: 4, ...(continuation ? { continuation } : {}) } as ProviderConfig;
  const created = createOpenAIAdapter("test-openai", config, apiKey);
  adapters.push(created);
  return created;
}

const request: ProviderRequest = {
  model: "gpt-test",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Say hello." },
  ],
  maxTokens: 16,
};

function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

function openStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
}

function textChunk(content: string): unknown {
  return { id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: { content }, finish_reason: null }] };
}

function finishChunk(reason: string | null): unknown {
  return { id: "c1", object: "chat.completion.chunk", choices: [{ index: 0, delta: {}, finish_reason: reason }] };
}

function usageChunk(prompt: number, completion: number): unknown {
  return { id: "c1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: prompt, completion_tokens: completion } };
}

/** Streams deltas, an optional finish reason, usage and [DONE]. */
function completion(deltas: string[], finishReason: string | null = "stop"): Handler {
  return (res) => {
    openStream(res);
    for (const text of deltas) sse(res, textChunk(text));
    sse(res, finishChunk(finishReason));
    sse(res, usageChunk(12, deltas.length));
    sse(res, "[DONE]");
    res.end();
  };
}

function jsonError(status: number, message: string, headers: Record<string, string> = {}): Handler {
  return (res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(JSON.stringify({ error: { message, type: "invalid_request_error", param: null, code: null } }));
  };
}

/** Runs a stream to completion; deltas seen before a failure stay in `deltas`. */
async function collect(
  target: ProviderAdapter,
  signal = new AbortController().signal,
  deltas: string[] = [],
  skipped: string[] = [],
  req = request,
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

describe("openai adapter", () => {
  it("yields deltas in order, then one done with the provider's usage", async () => {
    const provider = await startProvider(completion(["Hel", "lo", ", world"]));
    const { deltas, done } = await collect(adapter(`${provider.url}/v1`));
    expect(deltas).toEqual(["Hel", "lo", ", world"]);
    expect(done).toEqual({ type: "done", finishReason: "stop", usage: { promptTokens: 12, completionTokens: 3 } });
  });

  it("passes the finish reason through and defaults a missing one to stop", async () => {
    const truncated = await startProvider(completion(["a"], "length"));
    expect((await collect(adapter(truncated.url))).done?.finishReason).toBe("length");
    const silent = await startProvider(completion(["a"], null));
    expect((await collect(adapter(silent.url))).done?.finishReason).toBe("stop");
  });

  it("reports no usage when the provider sends none", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      sse(res, textChunk("hi"));
      sse(res, finishChunk("stop"));
      sse(res, "[DONE]");
      res.end();
    });
    expect((await collect(adapter(provider.url))).done?.usage).toBeUndefined();
  });

  it("posts a streaming chat completion under the base URL's path", async () => {
    const provider = await startProvider(completion(["ok"]));
    await collect(adapter(`${provider.url}/v1/`));
    expect(provider.received).toHaveLength(1);
    const [sent] = provider.received;
    expect(sent?.method).toBe("POST");
    expect(sent?.url).toBe("/v1/chat/completions");
    expect(sent?.headers["content-type"]).toBe("application/json");
    expect(sent?.headers["accept"]).toBe("text/event-stream");
    expect(JSON.parse(sent?.body ?? "")).toEqual({
      model: "gpt-test",
      messages: request.messages,
      max_tokens: 16,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it("sends temperature only when the request has one", async () => {
    const provider = await startProvider(completion(["ok"]));
    const target = adapter(provider.url);
    for await (const _ of target.stream({ ...request, temperature: 0.2 }, new AbortController().signal));
    expect(JSON.parse(provider.received[0]?.body ?? "").temperature).toBe(0.2);
  });

  it("sends the API key as a bearer token to the provider and nowhere else", async () => {
    const key = "sk-test-secret-7f3a";
    const provider = await startProvider(completion(["ok"]));
    await collect(adapter(provider.url, key));
    const [sent] = provider.received;
    expect(sent?.headers["authorization"]).toBe(`Bearer ${key}`);
    const { authorization: _, ...otherHeaders } = sent?.headers ?? {};
    expect(JSON.stringify(otherHeaders)).not.toContain(key);
    expect(sent?.body).not.toContain(key);
  });

  it("sends no authorization header without a key", async () => {
    const provider = await startProvider(completion(["ok"]));
    await collect(adapter(provider.url));
    expect(provider.received[0]?.headers["authorization"]).toBeUndefined();
  });

  it("keeps a multi-byte character whole when a network chunk splits it", async () => {
    const event = Buffer.from(`data: ${JSON.stringify(textChunk("café ☕"))}\n\n`, "utf8");
    const split = event.indexOf(Buffer.from("☕", "utf8")) + 1;
    const provider = await startProvider(async (res) => {
      openStream(res);
      res.write(event.subarray(0, split));
      await new Promise((resolve) => setTimeout(resolve, 30));
      res.write(event.subarray(split));
      sse(res, finishChunk("stop"));
      sse(res, "[DONE]");
      res.end();
    });
    expect((await collect(adapter(provider.url))).deltas).toEqual(["café ☕"]);
  });

  it("maps 429 to rate_limited with Retry-After in milliseconds", async () => {
    const provider = await startProvider(jsonError(429, "Rate limit reached", { "retry-after": "2" }));
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("rate_limited");
    expect(err.options.status).toBe(429);
    expect(err.options.retryAfterMs).toBe(2_000);
    expect(err.message).toContain("Rate limit reached");
    expect(err.retryable).toBe(true);
  });

  it("maps 503 to server", async () => {
    const provider = await startProvider((res) => {
      res.writeHead(503, { "content-type": "text/plain" });
      res.end("upstream unavailable");
    });
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("server");
    expect(err.options.status).toBe(503);
    expect(err.options.retryAfterMs).toBeUndefined();
    expect(err.message).toBe("test-openai: HTTP 503: upstream unavailable");
  });

  it("maps 400 to client with the provider's message", async () => {
    const provider = await startProvider(jsonError(400, "max_tokens is too large"));
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("client");
    expect(err.options.status).toBe(400);
    expect(err.message).toBe("test-openai: HTTP 400: max_tokens is too large");
    expect(err.retryable).toBe(false);
  });

  it("maps a 400 context_length_exceeded to a context-length refusal a larger model may take", async () => {
    const body = {
      error: {
        message: "This model's maximum context length is 8192 tokens. However, you requested 9120 tokens.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    };
    const provider = await startProvider((res) => {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(JSON.stringify(body));
    });
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("context_length");
    expect(err.options.status).toBe(400);
    expect(err.retryable).toBe(true);
    // vLLM says the same without a code.
    const vllm = await startProvider(jsonError(400, "This model's maximum context length is 4096 tokens."));
    expect((await failure(collect(adapter(vllm.url)))).failure).toBe("context_length");
  });

  it("maps 408 to timeout", async () => {
    const provider = await startProvider(jsonError(408, "request timed out"));
    expect((await failure(collect(adapter(provider.url)))).failure).toBe("timeout");
  });

  it("maps a refused connection to network", async () => {
    const provider = await startProvider(completion(["unused"]));
    await provider.close();
    const err = await failure(collect(adapter(provider.url)));
    expect(err.failure).toBe("network");
    expect(err.message).toMatch(/^test-openai: /);
  });

  it("fails a stream cut mid-way instead of finishing it", async () => {
    const firstDelta = deferred();
    const provider = await startProvider(async (res) => {
      openStream(res);
      sse(res, textChunk("Hel"));
      sse(res, textChunk("lo"));
      await firstDelta.promise;
      res.socket?.destroy();
    });
    const deltas: string[] = [];
    const signal = new AbortController().signal;
    const err = await failure(
      (async () => {
        for await (const event of adapter(provider.url).stream(request, signal)) {
          expect(event.type).toBe("delta");
          if (event.type === "delta") deltas.push(event.text);
          if (deltas.length === 2) firstDelta.resolve();
        }
      })(),
    );
    expect(["server", "network"]).toContain(err.failure);
    expect(deltas).toEqual(["Hel", "lo"]);
  });

  it("accepts a stream that ends with a finish_reason and usage but without [DONE]", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      sse(res, textChunk("Hel"));
      sse(res, textChunk("lo"));
      sse(res, finishChunk("length"));
      sse(res, usageChunk(9, 2));
      res.end();
    });
    const { deltas, done } = await collect(adapter(provider.url));
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(done).toEqual({ type: "done", finishReason: "length", usage: { promptTokens: 9, completionTokens: 2 } });
  });

  it("accepts a finish_reason without [DONE] or usage, leaving usage to be estimated", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      sse(res, textChunk("Hel"));
      sse(res, finishChunk("stop"));
      res.end();
    });
    expect((await collect(adapter(provider.url))).done).toEqual({ type: "done", finishReason: "stop", usage: undefined });
  });

  it("fails a stream that ends with neither a finish_reason nor [DONE]", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      sse(res, textChunk("Hel"));
      res.end();
    });
    const deltas: string[] = [];
    const err = await failure(collect(adapter(provider.url), undefined, deltas));
    expect(err.failure).toBe("server");
    expect(err.message).toBe("test-openai: stream ended without a finish_reason or [DONE]");
    expect(deltas).toEqual(["Hel"]);
  });

  describe("assistant prefix", () => {
    const prefixed = { ...request, assistantPrefix: "The answer is" };
    const sentBody = async (continuation: ProviderConfig["continuation"]) => {
      const provider = await startProvider(completion([" 42"]));
      const target = adapter(provider.url, undefined, continuation);
      expect(target.continuesPrefix).toBe(true);
      expect((await collect(target, undefined, [], [], prefixed)).deltas).toEqual([" 42"]);
      return JSON.parse(provider.received[0]?.body ?? "") as Record<string, unknown>;
    };

    it("prefix: sends the text as the final assistant message", async () => {
      const body = await sentBody("prefix");
      expect(body["messages"]).toEqual([...request.messages, { role: "assistant", content: "The answer is" }]);
      expect(body["continue_final_message"]).toBeUndefined();
    });

    it("prefix_flag: marks the final assistant message prefix: true", async () => {
      const body = await sentBody("prefix_flag");
      expect((body["messages"] as unknown[]).at(-1)).toEqual({ role: "assistant", content: "The answer is", prefix: true });
    });

    it("continue_final_message: asks vLLM to continue the final message", async () => {
      const body = await sentBody("continue_final_message");
      expect((body["messages"] as unknown[]).at(-1)).toEqual({ role: "assistant", content: "The answer is" });
      expect(body).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
    });

    it("none (the default): declares no support and refuses a prefix without calling the provider", async () => {
      const provider = await startProvider(completion(["unused"]));
      const target = adapter(provider.url);
      expect(target.continuesPrefix).toBe(false);
      const err = await failure(collect(target, undefined, [], [], prefixed));
      expect(err.failure).toBe("client");
      expect(provider.received).toHaveLength(0);
    });
  });

  it("skips malformed chunks (not JSON, not an object) and finishes the answer", async () => {
    const provider = await startProvider((res) => {
      openStream(res);
      sse(res, textChunk("Hel"));
      sse(res, "{not json");
      sse(res, "42");
      sse(res, textChunk("lo"));
      sse(res, finishChunk("stop"));
      sse(res, "[DONE]");
      res.end();
    });
    const skipped: string[] = [];
    const { deltas, done } = await collect(adapter(provider.url), undefined, [], skipped);
    expect(deltas).toEqual(["Hel", "lo"]);
    expect(skipped).toEqual(['malformed stream chunk: "{not json"', 'malformed stream chunk: "42"']);
    expect(done?.finishReason).toBe("stop");
  });

  it("throws the abort reason when aborted mid-stream, and closes the connection", async () => {
    const serverSawClose = deferred();
    const provider = await startProvider((res) => {
      res.on("close", () => {
        expect(res.writableEnded).toBe(false);
        serverSawClose.resolve();
      });
      openStream(res);
      sse(res, textChunk("Hel"));
    });
    const controller = new AbortController();
    const reason = new ProviderError("timeout", "test-openai: no answer within 10 ms");
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
    const reason = new ProviderError("cancelled", "test-openai: caller cancelled");
    setTimeout(() => controller.abort(reason), 30);
    expect(await failure(collect(adapter(provider.url), controller.signal))).toBe(reason);
    await serverSawClose.promise;
  });

  it("reports an abort without a ProviderError reason as cancelled", async () => {
    const provider = await startProvider(() => undefined);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);
    expect((await failure(collect(adapter(provider.url), controller.signal))).failure).toBe("cancelled");
  });
});

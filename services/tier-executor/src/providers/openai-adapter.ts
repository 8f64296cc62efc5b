import { Pool } from "undici";
import { isContextLengthError } from "./context-length.js";
import { networkError, statusError } from "./http-errors.js";
import { PROBE_HEADER, type ProviderAdapterFactory, type ProviderEvent, type ProviderRequest, type ProviderUsage } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { sseEvents } from "./sse-events.js";

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  /** Some servers (vLLM, OpenRouter) report a failure mid-stream as a chunk. */
  error?: { message?: string; type?: string; code?: unknown } | null;
}

/**
 * OpenAI-compatible chat completions (OpenAI, vLLM, Ollama, OpenRouter, Together, Groq,
 * the tiermesh simulator). Always streams from the provider, so time to first token is
 * observed and enforced for unary calls too.
 */
export const createOpenAIAdapter: ProviderAdapterFactory = (name, config, apiKey) => {
  const base = new URL(config.base_url);
  const path = `${base.pathname.replace(/\/$/, "")}/chat/completions`;
  const pool = new Pool(base.origin, { connections: config.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers: Record<string, string> = { "content-type": "application/json", accept: "text/event-stream" };
  if (apiKey) headers["authorization"] = `Bearer ${apiKey}`;

  async function* stream(request: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const body = JSON.stringify({
      model: request.model,
      messages: request.messages,
      max_tokens: request.maxTokens,
      ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
      ...(request.jsonMode ? { response_format: { type: "json_object" } } : {}),
      stream: true,
      stream_options: { include_usage: true },
    });
    let res;
    try {
      res = await pool.request({ path, method: "POST", headers: request.probe ? { ...headers, [PROBE_HEADER]: "1" } : headers, body, signal, headersTimeout: 0, bodyTimeout: 0 });
    } catch (cause) {
      throw networkError(name, cause, signal);
    }
    if (res.statusCode !== 200) throw await statusError(name, res);
    let finishReason = "";
    let usage: ProviderUsage | undefined;
    let sawDone = false;
    try {
      for await (const event of sseEvents(res.body)) {
        if (event.data === "[DONE]") {
          sawDone = true;
          continue;
        }
        let parsed: ChatChunk;
        try {
          parsed = JSON.parse(event.data) as ChatChunk;
        } catch (cause) {
          throw new ProviderError("server", `${name}: malformed stream chunk`, { cause });
        }
        if (parsed.error) {
          const kind = isContextLengthError(parsed.error)
            ? "context_length"
            : parsed.error.type === "invalid_request_error"
              ? "client"
              : parsed.error.code === 429
                ? "rate_limited"
                : "server";
          throw new ProviderError(kind, `${name}: error in stream: ${parsed.error.message ?? "unknown error"}`);
        }
        const choice = parsed.choices?.[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const text = choice?.delta?.content;
        if (text) yield { type: "delta", text };
        if (parsed.usage) {
          usage = { promptTokens: parsed.usage.prompt_tokens ?? 0, completionTokens: parsed.usage.completion_tokens ?? 0 };
        }
      }
    } catch (cause) {
      if (cause instanceof ProviderError) throw cause;
      throw networkError(name, cause, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    if (!sawDone) throw new ProviderError("server", `${name}: stream ended without [DONE]`);
    yield { type: "done", finishReason: finishReason || "stop", usage };
  }

  return { name, stream, close: () => pool.close() };
};

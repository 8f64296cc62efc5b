import { Pool } from "undici";
import { isContextLengthError } from "./context-length.js";
import { networkError, statusError } from "./http-errors.js";
import { openAIBody } from "./openai-body.js";
import {
  PROBE_HEADER,
  type ProviderAdapterFactory,
  type ProviderEvent,
  type ProviderRequest,
  type ProviderUsage,
} from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { excerpt, sseEvents } from "./sse-events.js";

interface ToolCallChunk {
  index?: number;
  id?: string | null;
  function?: { name?: string | null; arguments?: string | null } | null;
}

interface ChatChunk {
  model?: string;
  choices?: { delta?: { content?: string | null; tool_calls?: ToolCallChunk[] | null }; finish_reason?: string | null }[];
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
  const continuation = config.continuation ?? "none";

  async function* stream(request: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const body = openAIBody(name, continuation, request);
    let res;
    try {
      res = await pool.request({ path, method: "POST", headers: headersFor(request), body, signal, headersTimeout: 0, bodyTimeout: 0 });
    } catch (cause) {
      throw networkError(name, cause, signal);
    }
    if (res.statusCode !== 200) throw await statusError(name, res);
    let finishReason = "";
    let usage: ProviderUsage | undefined;
    let sawDone = false;
    let model: string | undefined;
    try {
      for await (const event of sseEvents(res.body)) {
        if (event.data === "[DONE]") {
          sawDone = true;
          continue;
        }
        const parsed = parseChunk(event.data);
        if (parsed === undefined) {
          yield { type: "skipped", reason: `malformed stream chunk: ${excerpt(event.data)}` };
          continue;
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
        if (typeof parsed.model === "string" && parsed.model !== "") model = parsed.model;
        const choice = parsed.choices?.[0];
        if (choice?.finish_reason) finishReason = choice.finish_reason;
        const text = choice?.delta?.content;
        if (typeof text === "string" && text !== "") yield { type: "delta", text };
        for (const call of choice?.delta?.tool_calls ?? []) {
          const piece = {
            index: call.index ?? 0,
            id: call.id ?? "",
            name: call.function?.name ?? "",
            arguments: call.function?.arguments ?? "",
          };
          if (piece.id || piece.name || piece.arguments) yield { type: "tool_call", call: piece };
        }
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
    // A finish_reason says the answer is whole; some servers then close without [DONE].
    if (!sawDone && !finishReason) throw new ProviderError("server", `${name}: stream ended without a finish_reason or [DONE]`);
    yield { type: "done", finishReason: finishReason || "stop", usage, model };
  }

  const headersFor = (request: ProviderRequest): Record<string, string> =>
    request.probe || request.headers ? { ...request.headers, ...headers, ...(request.probe ? { [PROBE_HEADER]: "1" } : {}) } : headers;

  return { name, continuesPrefix: continuation !== "none", baseUrl: base, stream, close: () => pool.close() };
};

/** A chunk as JSON, or undefined when it is not a JSON object. */
function parseChunk(data: string): ChatChunk | undefined {
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as ChatChunk) : undefined;
  } catch {
    return undefined;
  }
}

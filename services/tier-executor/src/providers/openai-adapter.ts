import { createParser, type EventSourceMessage } from "eventsource-parser";
import { Pool, errors as undiciErrors } from "undici";
import type { ProviderAdapterFactory, ProviderEvent, ProviderRequest, ProviderUsage } from "./provider-adapter.js";
import { failureOfStatus, ProviderError } from "./provider-error.js";

interface ChatChunk {
  choices?: { delta?: { content?: string | null }; finish_reason?: string | null }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

const MAX_ERROR_BODY = 4_096;

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
      stream: true,
      stream_options: { include_usage: true },
    });
    let res;
    try {
      res = await pool.request({ path, method: "POST", headers, body, signal, headersTimeout: 0, bodyTimeout: 0 });
    } catch (cause) {
      throw networkError(name, cause, signal);
    }
    if (res.statusCode !== 200) {
      const text = await readCapped(res.body).catch(() => "");
      const retryAfter = Number(res.headers["retry-after"]);
      throw new ProviderError(failureOfStatus(res.statusCode), `${name}: HTTP ${res.statusCode}: ${errorMessage(text)}`, {
        status: res.statusCode,
        ...(Number.isFinite(retryAfter) ? { retryAfterMs: retryAfter * 1_000 } : {}),
      });
    }
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (e) => events.push(e) });
    let finishReason = "";
    let usage: ProviderUsage | undefined;
    let sawDone = false;
    try {
      for await (const chunk of res.body) {
        parser.feed((chunk as Buffer).toString("utf8"));
        for (const event of events.splice(0)) {
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
          const choice = parsed.choices?.[0];
          if (choice?.finish_reason) finishReason = choice.finish_reason;
          const text = choice?.delta?.content;
          if (text) yield { type: "delta", text };
          if (parsed.usage) {
            usage = { promptTokens: parsed.usage.prompt_tokens ?? 0, completionTokens: parsed.usage.completion_tokens ?? 0 };
          }
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

function networkError(name: string, cause: unknown, signal: AbortSignal): ProviderError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ProviderError) return reason;
    return new ProviderError("cancelled", `${name}: request cancelled`, { cause });
  }
  if (cause instanceof undiciErrors.UndiciError) return new ProviderError("network", `${name}: ${cause.message}`, { cause });
  return new ProviderError("network", `${name}: ${(cause as Error).message ?? String(cause)}`, { cause });
}

async function readCapped(body: AsyncIterable<unknown> & { destroy(): void }): Promise<string> {
  let text = "";
  for await (const chunk of body) {
    text += (chunk as Buffer).toString("utf8");
    if (text.length > MAX_ERROR_BODY) {
      body.destroy();
      break;
    }
  }
  return text.slice(0, MAX_ERROR_BODY);
}

function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON; fall through
  }
  return text.slice(0, 200) || "no body";
}

import { StartupError } from "@tiermesh/runtime";
import { Pool } from "undici";
import { isContextLengthError } from "./context-length.js";
import { networkError, statusError } from "./http-errors.js";
import {
  PROBE_HEADER,
  type ProviderAdapterFactory,
  type ProviderEvent,
  type ProviderRequest,
  type ProviderUsage,
} from "./provider-adapter.js";
import { ProviderError, type ProviderFailure } from "./provider-error.js";
import { anthropicBody } from "./anthropic-body.js";
import { excerpt, sseEvents } from "./sse-events.js";

const ANTHROPIC_VERSION = "2023-06-01";

/** The fields of Messages stream events this adapter reads; everything else is ignored. */
interface MessagesStreamEvent {
  type?: string;
  index?: number;
  message?: { model?: string; usage?: { input_tokens?: number; output_tokens?: number } };
  content_block?: { type?: string; id?: string; name?: string };
  delta?: { type?: string; text?: string; partial_json?: string; stop_reason?: string | null };
  usage?: { output_tokens?: number };
  error?: { type?: string; message?: string };
}

/** Anthropic stop reasons with an OpenAI-style equivalent; others pass through as is. */
const finishReasons: Readonly<Record<string, string>> = {
  end_turn: "stop",
  max_tokens: "length",
  stop_sequence: "stop",
  tool_use: "tool_calls",
};

/** Anthropic error types (stream `error` events) by failure kind; unknown types count as "server". */
const errorFailures: Readonly<Record<string, ProviderFailure>> = {
  overloaded_error: "server",
  api_error: "server",
  rate_limit_error: "rate_limited",
  invalid_request_error: "client",
  authentication_error: "client",
  permission_error: "client",
  not_found_error: "client",
  request_too_large: "client",
};

/**
 * Anthropic Messages API, streamed. `base_url` is the API root WITHOUT the version
 * segment (`https://api.anthropic.com`, or a proxy's root); requests go to
 * `{base_url}/v1/messages`. A base_url ending in `/v1` is refused at startup rather than
 * silently posting to `/v1/v1/messages`.
 */
export const createAnthropicAdapter: ProviderAdapterFactory = (name, config, apiKey) => {
  const base = new URL(config.base_url);
  const root = base.pathname.replace(/\/+$/, "");
  if (root.endsWith("/v1")) {
    throw new StartupError(
      `providers.${name}.base_url: kind "anthropic" takes the API root without /v1 (e.g. https://api.anthropic.com), got ${config.base_url}`,
    );
  }
  const path = `${root}/v1/messages`;
  const pool = new Pool(base.origin, { connections: config.connections, pipelining: 1, keepAliveTimeout: 60_000 });
  const headers: Record<string, string> = {
    "content-type": "application/json",
    accept: "text/event-stream",
    "anthropic-version": ANTHROPIC_VERSION,
  };
  if (apiKey) headers["x-api-key"] = apiKey;

  async function* stream(request: ProviderRequest, signal: AbortSignal): AsyncGenerator<ProviderEvent> {
    const body = anthropicBody(name, request);
    // A JSON schema answer comes as the input of the one tool it was asked through: that input is the answer's text.
    const answerByTool = request.jsonSchema !== undefined;
    /** Tool calls by content block index: their index among the answer's calls, and whether arguments came. */
    const calls = new Map<number, { index: number; args: boolean }>();
    // The API refuses a final assistant message ending in whitespace, so the prefix goes
    // without it; the caller already has it, so the continuation must not repeat it.
    let trimLeading = request.assistantPrefix !== undefined && /\s$/.test(request.assistantPrefix);
    let res;
    try {
      const sent =
        request.probe || request.headers ? { ...request.headers, ...headers, ...(request.probe ? { [PROBE_HEADER]: "1" } : {}) } : headers;
      res = await pool.request({ path, method: "POST", headers: sent, body, signal, headersTimeout: 0, bodyTimeout: 0 });
    } catch (cause) {
      throw networkError(name, cause, signal);
    }
    if (res.statusCode !== 200) throw await statusError(name, res);
    let stopReason = "";
    let inputTokens: number | undefined;
    let outputTokens: number | undefined;
    let sawStop = false;
    let model: string | undefined;
    try {
      for await (const event of sseEvents(res.body)) {
        const data = parseEvent(event.data);
        if (data === undefined) {
          yield { type: "skipped", reason: `malformed stream event: ${excerpt(event.data)}` };
          continue;
        }
        switch (data.type) {
          case "message_start":
            if (typeof data.message?.model === "string") model = data.message.model;
            inputTokens = data.message?.usage?.input_tokens ?? inputTokens;
            outputTokens = data.message?.usage?.output_tokens ?? outputTokens;
            break;
          case "content_block_start":
            if (data.content_block?.type === "tool_use" && !answerByTool) {
              const index = calls.size;
              calls.set(data.index ?? 0, { index, args: false });
              yield {
                type: "tool_call",
                call: { index, id: data.content_block.id ?? "", name: data.content_block.name ?? "", arguments: "" },
              };
            }
            break;
          case "content_block_delta":
            // Text beside the JSON answer's tool call is not part of the answer.
            if (data.delta?.type === "text_delta" && typeof data.delta.text === "string" && data.delta.text && !answerByTool) {
              const text = trimLeading ? data.delta.text.trimStart() : data.delta.text;
              if (text === "") break;
              trimLeading = false;
              yield { type: "delta", text };
            } else if (data.delta?.type === "input_json_delta" && data.delta.partial_json) {
              const call = calls.get(data.index ?? 0);
              if (answerByTool) yield { type: "delta", text: data.delta.partial_json };
              else if (call) {
                call.args = true;
                yield { type: "tool_call", call: { index: call.index, id: "", name: "", arguments: data.delta.partial_json } };
              }
            }
            break;
          case "content_block_stop": {
            // A call without arguments has an empty object of them, as OpenAI says it.
            const call = calls.get(data.index ?? 0);
            if (call && !call.args) {
              call.args = true;
              yield { type: "tool_call", call: { index: call.index, id: "", name: "", arguments: "{}" } };
            }
            break;
          }
          case "message_delta":
            if (data.delta?.stop_reason) stopReason = data.delta.stop_reason;
            // Cumulative for the whole message, so the last one wins.
            outputTokens = data.usage?.output_tokens ?? outputTokens;
            break;
          case "message_stop":
            sawStop = true;
            break;
          case "error":
            throw streamError(name, data.error);
          default:
          // ping, other blocks' deltas and event types added later
        }
      }
    } catch (cause) {
      if (cause instanceof ProviderError) throw cause;
      throw networkError(name, cause, signal);
    } finally {
      if (!res.body.destroyed) res.body.destroy();
    }
    // A stop reason says the answer is whole, even when message_stop never came.
    if (!sawStop && !stopReason) throw new ProviderError("server", `${name}: stream ended without a stop reason or message_stop`);
    const usage: ProviderUsage | undefined =
      inputTokens === undefined && outputTokens === undefined
        ? undefined
        : { promptTokens: inputTokens ?? 0, completionTokens: outputTokens ?? 0 };
    const finishReason = answerByTool && stopReason === "tool_use" ? "stop" : (finishReasons[stopReason] ?? (stopReason || "stop"));
    yield { type: "done", finishReason, usage, model };
  }

  return { name, continuesPrefix: (config.continuation ?? "prefix") !== "none", baseUrl: base, stream, close: () => pool.close() };
};

/** An event's data as JSON, or undefined when it is not a JSON object. */
function parseEvent(data: string): MessagesStreamEvent | undefined {
  try {
    const parsed: unknown = JSON.parse(data);
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as MessagesStreamEvent) : undefined;
  } catch {
    return undefined;
  }
}

function streamError(name: string, error: MessagesStreamEvent["error"]): ProviderError {
  const type = error?.type ?? "unknown_error";
  const failure = type === "invalid_request_error" && isContextLengthError(error) ? "context_length" : (errorFailures[type] ?? "server");
  return new ProviderError(failure, `${name}: ${type}: ${error?.message ?? "no message"}`);
}

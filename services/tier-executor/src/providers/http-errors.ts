import type { Dispatcher } from "undici";
import { isContextLengthRefusal } from "./context-length.js";
import { failureOfStatus, ProviderError } from "./provider-error.js";
import { retryAfterMs } from "./retry-after.js";

/** Error bodies are read up to this many characters; the rest is dropped. */
const MAX_ERROR_BODY = 4_096;

/**
 * The ProviderError for a non-200 answer: failure kind from the status (a refusal for the
 * context window's sake is its own kind), message from the body's `error.message` (OpenAI
 * and Anthropic both use that shape), the provider's Retry-After (or rate-limit reset hint) in ms.
 */
export async function statusError(name: string, res: Dispatcher.ResponseData): Promise<ProviderError> {
  const text = await readCapped(res.body).catch(() => "");
  const retryAfter = retryAfterMs(res.headers, res.statusCode);
  const failure = isContextLengthRefusal(res.statusCode, text) ? "context_length" : failureOfStatus(res.statusCode);
  return new ProviderError(failure, `${name}: HTTP ${res.statusCode}: ${errorMessage(text)}`, {
    status: res.statusCode,
    ...(retryAfter !== undefined ? { retryAfterMs: retryAfter } : {}),
  });
}

/**
 * The ProviderError for a failed request or body read. An aborted signal wins: its
 * ProviderError reason (a timeout, say) is returned as is, any other reason is "cancelled".
 */
export function networkError(name: string, cause: unknown, signal: AbortSignal): ProviderError {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof ProviderError) return reason;
    return new ProviderError("cancelled", `${name}: request cancelled`, { cause });
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new ProviderError("network", `${name}: ${message}`, { cause });
}

/** Reads at most MAX_ERROR_BODY characters of a body, destroying it past that. */
export async function readCapped(body: AsyncIterable<unknown> & { destroy(): void }): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for await (const chunk of body) {
    text += decoder.decode(chunk as Uint8Array, { stream: true });
    if (text.length > MAX_ERROR_BODY) {
      body.destroy();
      break;
    }
  }
  return text.slice(0, MAX_ERROR_BODY);
}

/** `error.message` of a JSON error body, else the start of the raw text. */
export function errorMessage(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON; fall through
  }
  return text.slice(0, 200) || "no body";
}

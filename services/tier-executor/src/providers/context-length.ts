/**
 * How providers say a prompt plus its max tokens is over the model's context window:
 * OpenAI's code `context_length_exceeded`, vLLM's and OpenAI's "maximum context length is",
 * Anthropic's invalid_request_error "prompt is too long: 201234 tokens > 200000 maximum".
 */
const CONTEXT_MESSAGE = /maximum context length|context length exceeded|context window|prompt is too long/i;

interface ErrorBody {
  error?: { code?: unknown; type?: unknown; message?: unknown } | null;
}

/** Whether an error answer (status and raw body) refuses the request for its length, not for being wrong. */
export function isContextLengthRefusal(status: number, body: string): boolean {
  if (status !== 400 && status !== 413) return false;
  let parsed: ErrorBody;
  try {
    parsed = JSON.parse(body) as ErrorBody;
  } catch {
    return CONTEXT_MESSAGE.test(body.slice(0, 500));
  }
  return isContextLengthError(parsed.error ?? undefined);
}

/** The same for an error object carried inside a stream (OpenAI chunk `error`, Anthropic `error` event). */
export function isContextLengthError(error: ErrorBody["error"] | undefined): boolean {
  if (!error) return false;
  if (error.code === "context_length_exceeded") return true;
  return typeof error.message === "string" && CONTEXT_MESSAGE.test(error.message);
}

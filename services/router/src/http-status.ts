import { Code, type ConnectError } from "@connectrpc/connect";
import {
  BUDGET_EXHAUSTED,
  CONTEXT_LENGTH_EXCEEDED,
  ERROR_REASON_HEADER,
  MODEL_NOT_FOUND,
  PROMPT_TOO_LARGE,
  RATE_LIMIT_HEADER,
  RETRY_AFTER_HEADER,
  TENANT_RATE_LIMITED,
} from "@tiermesh/proto";

const statusOfCode: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.ResourceExhausted]: 429,
  [Code.Canceled]: 499,
  [Code.Unimplemented]: 501,
  [Code.Unavailable]: 503,
  [Code.DeadlineExceeded]: 504,
};

/** HTTP status for an RPC error at the HTTP edge. */
export function httpStatusOf(err: ConnectError): number {
  if (err.code === Code.ResourceExhausted && err.metadata.get(ERROR_REASON_HEADER) === PROMPT_TOO_LARGE) return 413;
  return statusOfCode[err.code] ?? 500;
}

/** OpenAI's error type names for the statuses above. */
export function openAIErrorType(status: number): string {
  if (status === 401) return "authentication_error";
  if (status === 403) return "permission_error";
  if (status === 404) return "not_found_error";
  if (status === 413 || status === 400) return "invalid_request_error";
  if (status === 429) return "rate_limit_error";
  return "api_error";
}

/**
 * OpenAI's `type`, `param` and `code` for an RPC error answered with `status`, where OpenAI has
 * them: a prompt too long for every allowed model, a model the caller may not use, a tenant over
 * its rate limit.
 */
export function openAIErrorDetail(err: ConnectError, status: number): { type: string; param: string | null; code: string | null } {
  const reason = err.metadata.get(ERROR_REASON_HEADER);
  if (err.code === Code.InvalidArgument && reason === CONTEXT_LENGTH_EXCEEDED) {
    return { type: openAIErrorType(status), param: "messages", code: "context_length_exceeded" };
  }
  // OpenAI's own answer to an account past its quota.
  if (err.code === Code.ResourceExhausted && reason === BUDGET_EXHAUSTED)
    return { type: "insufficient_quota", param: null, code: "insufficient_quota" };
  if (err.code === Code.NotFound && reason === MODEL_NOT_FOUND)
    return { type: "invalid_request_error", param: "model", code: "model_not_found" };
  if (err.code === Code.ResourceExhausted && reason === TENANT_RATE_LIMITED) {
    // As OpenAI: the type names the limit ("requests" or "tokens"). A request too large for the
    // token limit on its own (no retry-after) names the parameter that can make it fit.
    const tokens = err.metadata.get(RATE_LIMIT_HEADER) === "tokens_per_minute";
    const param = tokens && err.metadata.get(RETRY_AFTER_HEADER) === null ? "max_tokens" : null;
    return { type: tokens ? "tokens" : "requests", param, code: "rate_limit_exceeded" };
  }
  return { type: openAIErrorType(status), param: null, code: null };
}

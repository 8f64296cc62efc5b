import { Code, ConnectError } from "@connectrpc/connect";
import { CONTEXT_LENGTH_EXCEEDED, ERROR_REASON_HEADER, PROMPT_TOO_LARGE } from "@tiermesh/proto";

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

/** OpenAI's `param` and `code` for an RPC error, where OpenAI has them: a prompt too long for every allowed model. */
export function openAIErrorDetail(err: ConnectError): { param: string | null; code: string | null } {
  if (err.code === Code.InvalidArgument && err.metadata.get(ERROR_REASON_HEADER) === CONTEXT_LENGTH_EXCEEDED) {
    return { param: "messages", code: "context_length_exceeded" };
  }
  return { param: null, code: null };
}

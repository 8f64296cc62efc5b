import { Code, ConnectError } from "@connectrpc/connect";
import {
  ATTEMPTS_HEADER,
  CONTEXT_LENGTH_EXCEEDED,
  ERROR_REASON_HEADER,
  PROVIDER_RATE_LIMITED,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
} from "@tiermesh/proto";
import { BulkheadFullError, BulkheadTimeoutError, type Bulkhead } from "./bulkhead.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";
import type { RunContext } from "./run-contract.js";

/** The RPC code a request gets when its last attempt failed this way. */
export const codeOfFailure: Record<ProviderFailure, Code> = {
  timeout: Code.DeadlineExceeded,
  stalled: Code.Unavailable,
  rate_limited: Code.ResourceExhausted,
  server: Code.Unavailable,
  network: Code.Unavailable,
  client: Code.InvalidArgument,
  context_length: Code.InvalidArgument,
  cancelled: Code.Canceled,
};

/**
 * How a tier's run fails at the RPC boundary: a ConnectError named for the tier, with the
 * attempts it made, the Retry-After (whole seconds, at least 1) when one is known, and the
 * error reason when no deployment's context window could take the request.
 */
export function tierFailure(
  tierName: string,
  message: string,
  code: Code,
  attempts: number,
  cause?: unknown,
  retryAfterMs?: number,
): ConnectError {
  const metadata: Record<string, string> = { [ATTEMPTS_HEADER]: String(attempts) };
  if (retryAfterMs !== undefined) {
    metadata[RETRY_AFTER_HEADER] = String(Math.max(1, Math.ceil(retryAfterMs / 1_000)));
    metadata[RETRY_AFTER_MS_HEADER] = String(Math.max(1, Math.ceil(retryAfterMs)));
  }
  if (cause instanceof ProviderError && cause.failure === "context_length") metadata[ERROR_REASON_HEADER] = CONTEXT_LENGTH_EXCEEDED;
  if (cause instanceof ProviderError && cause.failure === "rate_limited") metadata[ERROR_REASON_HEADER] = PROVIDER_RATE_LIMITED;
  return new ConnectError(`tier ${tierName}: ${message}`, code, metadata, undefined, cause);
}

/**
 * The failure of a run that stopped trying: the caller's cancellation first, then a deadline
 * that passed (or left no time for any attempt), else the last attempt's own error, with the
 * provider's Retry-After capped at `maxRetryAfterMs` (the tier's `cooldown.max_ms`), as the
 * deployment's own cool-down is: an absurd value must not hold callers for hours.
 */
export function lastFailure(
  tierName: string,
  lastError: ProviderError | undefined,
  attempts: number,
  ctx: RunContext,
  maxRetryAfterMs: number,
): ConnectError {
  if (ctx.signal.aborted) return tierFailure(tierName, "request cancelled", Code.Canceled, attempts);
  if (!lastError || Date.now() >= ctx.deadline) {
    return tierFailure(
      tierName,
      `deadline exceeded${lastError ? ` (last error: ${lastError.message})` : ""}`,
      Code.DeadlineExceeded,
      attempts,
    );
  }
  const asked = lastError.options.retryAfterMs;
  const retryAfter = asked === undefined ? undefined : Math.min(asked, maxRetryAfterMs);
  return tierFailure(tierName, lastError.message, codeOfFailure[lastError.failure], attempts, lastError, retryAfter);
}

/**
 * Takes a slot of the tier's bulkhead, waiting in its queue within the caller's deadline;
 * returns its release. A full queue is refused at once (RESOURCE_EXHAUSTED, with when to
 * come back); a deadline passed in the queue and a caller gone while queued say so.
 */
export async function acquireSlot(tierName: string, bulkhead: Bulkhead, ctx: RunContext): Promise<() => void> {
  try {
    return await bulkhead.acquire(ctx.signal, ctx.deadline);
  } catch (cause) {
    if (cause instanceof BulkheadFullError) {
      throw tierFailure(tierName, `over capacity (${cause.message})`, Code.ResourceExhausted, 0, cause, cause.retryAfterMs);
    }
    if (cause instanceof BulkheadTimeoutError && cause.reason === "deadline") {
      throw tierFailure(tierName, `deadline passed while queued for capacity (${cause.message})`, Code.DeadlineExceeded, 0, cause);
    }
    throw tierFailure(tierName, "request cancelled while queued", Code.Canceled, 0, cause);
  }
}

import { Code, ConnectError } from "@connectrpc/connect";
import { ERROR_REASON_HEADER, RATE_LIMIT_HEADER, RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER, TENANT_RATE_LIMITED } from "@tiermesh/proto";
import type { RateDecision } from "./rate-limiter.js";

/**
 * RESOURCE_EXHAUSTED for a tenant over its rate limit, with the reason, the limit's name and
 * when to come back (`retry-after` in whole seconds, `tiermesh-retry-after-ms` exactly). A
 * request larger than the limit on its own gets no retry-after: waiting would not help.
 */
export function rateLimitError(decision: Extract<RateDecision, { admitted: false }>): ConnectError {
  const metadata = new Headers({ [ERROR_REASON_HEADER]: TENANT_RATE_LIMITED, [RATE_LIMIT_HEADER]: decision.limit });
  const ms = decision.retryAfterMs;
  if (ms !== undefined) {
    metadata.set(RETRY_AFTER_HEADER, String(Math.max(1, Math.ceil(ms / 1_000))));
    metadata.set(RETRY_AFTER_MS_HEADER, String(Math.ceil(ms)));
  }
  return new ConnectError(decision.message, Code.ResourceExhausted, metadata);
}

/** Whether an error is a tenant's rate limit. */
export function isTenantRateLimited(err: ConnectError): boolean {
  return err.code === Code.ResourceExhausted && err.metadata.get(ERROR_REASON_HEADER) === TENANT_RATE_LIMITED;
}

/** Why a provider attempt failed, as far as retry and health decisions care. */
export type ProviderFailure =
  | "timeout" // attempt or time-to-first-token timeout
  | "stalled" // the deployment stopped producing first tokens (stall detection), long before the timeout
  | "rate_limited" // 429
  | "server" // 5xx or malformed answer
  | "network" // connection refused, reset, DNS
  | "client" // 4xx other than 408/429: the request itself is bad
  | "context_length" // the prompt plus max tokens does not fit this model's context window: a larger model may take it
  | "cancelled"; // the caller went away

export class ProviderError extends Error {
  override readonly name = "ProviderError";
  constructor(
    readonly failure: ProviderFailure,
    message: string,
    readonly options: { status?: number; retryAfterMs?: number; cause?: unknown } = {},
  ) {
    super(message, { cause: options.cause });
  }

  /** Worth trying again, on this or another deployment. */
  get retryable(): boolean {
    return this.failure !== "client" && this.failure !== "cancelled";
  }
}

/** Maps an HTTP error status to a failure kind. */
export function failureOfStatus(status: number): ProviderFailure {
  if (status === 429) return "rate_limited";
  if (status === 408) return "timeout";
  if (status >= 500) return "server";
  return "client";
}

/**
 * Response metadata key naming why a call failed, where the code alone is ambiguous
 * (e.g. RESOURCE_EXHAUSTED: over a size limit vs over capacity).
 */
export const ERROR_REASON_HEADER = "tiermesh-error-reason";

/** The prompt is larger than the plan allows (HTTP 413 at the HTTP edge). */
export const PROMPT_TOO_LARGE = "prompt-too-large";

/** Error metadata key: provider attempts an executor used before failing. */
export const ATTEMPTS_HEADER = "tiermesh-attempts";

/** Error metadata key: seconds after which a refused request may be retried (bulkhead, rate limits). */
export const RETRY_AFTER_HEADER = "retry-after";

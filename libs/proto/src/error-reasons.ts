/**
 * Response metadata key naming why a call failed, where the code alone is ambiguous
 * (e.g. RESOURCE_EXHAUSTED: over a size limit vs over capacity).
 */
export const ERROR_REASON_HEADER = "tiermesh-error-reason";

/** The prompt is larger than the plan allows (HTTP 413 at the HTTP edge). */
export const PROMPT_TOO_LARGE = "prompt-too-large";

/**
 * The prompt plus max tokens does not fit the context window of the models tried (INVALID_ARGUMENT).
 * From an executor: a routing miss, the router tries a tier with a larger window. From the router:
 * no model the plan allows fits (HTTP 400, OpenAI code `context_length_exceeded`).
 */
export const CONTEXT_LENGTH_EXCEEDED = "context-length-exceeded";

/**
 * Every deployment of the tier is rate limited by its provider (429, or cooling down after one);
 * `retry-after` / `tiermesh-retry-after-ms` say when to come back. Unlike a full bulkhead, which
 * sheds load, this is worth waiting for when no other tier can serve the request.
 */
export const PROVIDER_RATE_LIMITED = "provider-rate-limited";

/**
 * The tenant is over its plan's requests or tokens per minute (RESOURCE_EXHAUSTED; HTTP 429 with
 * OpenAI's code `rate_limit_exceeded`). `retry-after` / `tiermesh-retry-after-ms` say when the
 * request would fit, and `tiermesh-rate-limit` names the limit (`requests_per_minute` or
 * `tokens_per_minute`). Without a retry-after, the request alone is larger than the limit.
 */
export const TENANT_RATE_LIMITED = "tenant-rate-limited";

/** Error metadata key: which of the tenant's limits refused the request (`requests_per_minute`, `tokens_per_minute`). */
export const RATE_LIMIT_HEADER = "tiermesh-rate-limit";

/**
 * The tenant has spent its budget for the period (RESOURCE_EXHAUSTED; HTTP 429 at the OpenAI edge,
 * code `budget_exhausted`); the message names the budget. `retry-after` says when the period ends.
 */
export const BUDGET_EXHAUSTED = "budget-exhausted";

/** Error metadata key: provider attempts an executor used before failing. */
export const ATTEMPTS_HEADER = "tiermesh-attempts";

/** Error metadata key: seconds after which a refused request may be retried (bulkhead, rate limits). */
export const RETRY_AFTER_HEADER = "retry-after";

/** Error metadata key: milliseconds after which a refused request may be retried (finer than `retry-after`). */
export const RETRY_AFTER_MS_HEADER = "tiermesh-retry-after-ms";

/**
 * A canary probe was refused without a provider call: its deployment is cooling down after the
 * provider asked to wait (429, Retry-After). Says nothing about the deployment's health.
 */
export const DEPLOYMENT_COOLING = "deployment-cooling";

/** How long an error's metadata asks the caller to wait, in ms (`tiermesh-retry-after-ms`, else `retry-after` seconds); undefined when it does not say. */
export function retryAfterMsOf(metadata: Headers): number | undefined {
  const ms = Number(metadata.get(RETRY_AFTER_MS_HEADER) ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const seconds = Number(metadata.get(RETRY_AFTER_HEADER) ?? NaN);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1_000 : undefined;
}

/**
 * The requested model is none the caller's plan may use: not `auto`, a tier, a model of an
 * allowed tier's pool or an alias the classifier's rules name (NOT_FOUND; HTTP 404 with
 * OpenAI's code `model_not_found`).
 */
export const MODEL_NOT_FOUND = "model-not-found";

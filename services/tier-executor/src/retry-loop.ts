import { attemptRound } from "./attempt-round.js";
import type { ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError } from "./providers/provider-error.js";
import { backoff } from "./retry-backoff.js";
import type { RunContext, RunEvent, RunRequest, RunResult } from "./run-contract.js";
import { openScope, type TierParts } from "./run-scope.js";
import { lastFailure } from "./tier-failure.js";

/**
 * Serves a request from its tier's pool, one attempt round after another, until one serves
 * it: within the request's attempt limit and the caller's deadline, each retry paid for from
 * the tier's retry budget (a request deposits in it, and in the hedge budget, unless it is a
 * probe) and waited for with backoff, except after a stall or a refusal for length (the next
 * deployment is not the one that failed). Stops at once when no deployment is left to try or
 * the failure is not one to retry, and then fails with what it knows (see lastFailure).
 */
export async function* serveWithRetries(
  parts: TierParts,
  request: RunRequest,
  providerRequest: ProviderRequest,
  ctx: RunContext,
  started: number,
): AsyncGenerator<RunEvent, RunResult> {
  const { tierName, tier, picker, states } = parts;
  const scope = openScope(parts, request, providerRequest, ctx, started);
  const { log } = scope;
  let lastError: ProviderError | undefined;
  if (!request.probe) {
    parts.retryBudget.deposit();
    parts.hedgeBudget.deposit();
  }
  while (scope.attempts < scope.limit) {
    if (scope.attempts > 0) {
      // Nothing left to try: say so at once, without spending the retry budget or a backoff.
      if (!picker.anyUsable(log)) {
        lastError = picker.whyNoneUsable(log, lastError, tierName);
        break;
      }
      if (!parts.retryBudget.tryRetry()) {
        lastError = new ProviderError(lastError?.failure ?? "server", `${lastError?.message ?? "failed"} (retry budget exhausted)`);
        break;
      }
      // A stall has already cost its wait, and the next deployment is not the stalled one
      // (nor, after a refusal for length, the one that refused).
      if (lastError?.failure !== "stalled" && lastError?.failure !== "context_length") {
        await backoff(tier.retries.backoff_ms, scope.attempts, parts.random, ctx);
      }
    }
    const remaining = ctx.deadline - Date.now();
    if (remaining <= 0 || ctx.signal.aborted) break;
    const state = request.deployment ? states.find((s) => s.deployment.id === request.deployment) : picker.pick(log);
    if (!state) {
      lastError = picker.whyNoneUsable(log, lastError, tierName);
      break;
    }
    const round = yield* attemptRound(scope, state, remaining);
    if ("result" in round) return round.result;
    lastError = round.error;
    if (!lastError.retryable) break;
  }
  throw lastFailure(tierName, lastError, scope.attempts, ctx, tier.cooldown.max_ms);
}

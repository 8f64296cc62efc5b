import { Code } from "@connectrpc/connect";
import { continueAnswer, NotContinued } from "./answer-continuation.js";
import type { DeploymentState } from "./deployment-state.js";
import type { ProviderAdapter, ProviderRequest } from "./providers/provider-adapter.js";
import type { ProviderError } from "./providers/provider-error.js";
import type { RunEvent, RunResult } from "./run-contract.js";
import { startAttempt, type RunScope, type TierParts } from "./run-scope.js";
import { tierFailure } from "./tier-failure.js";

/** Which deployments can continue an assistant prefix: those whose provider says so. */
export function continuationCapable(providers: ReadonlyMap<string, ProviderAdapter>): (state: DeploymentState) => boolean {
  return (s) => providers.get(s.deployment.provider)?.continuesPrefix ?? false;
}

/** A request continuing an answer needs continuation on here, and a deployment that can continue. */
export function checkContinuable(parts: TierParts): void {
  const { tierName, tier } = parts;
  if (!tier.continuation.enabled) throw tierFailure(tierName, "continuation is off for this tier", Code.FailedPrecondition, 0);
  if (!parts.states.some(parts.capable)) {
    throw tierFailure(
      tierName,
      `no deployment of tier ${tierName} can continue an answer (no provider with continuation)`,
      Code.FailedPrecondition,
      0,
    );
  }
}

/** The stream that failed after text reached the caller: what it delivered, where, and when its first token came. */
export interface InterruptedStream {
  error: ProviderError;
  delivered: string;
  /** A tool call had begun: a tool call cannot be continued from a prefix, so the answer fails as interrupted. */
  toolCalled: boolean;
  /** The deployment whose stream failed. */
  failed: string;
  /** From the start of the run. */
  firstTtftMs: number;
}

/**
 * Hands an answer whose stream failed mid-way to continueAnswer, when the failure is one to
 * retry, the tier continues answers and no tool call had begun; otherwise, or when nothing could continue it, fails
 * the request as interrupted (UNAVAILABLE). Its result keeps the first stream's time to
 * first token and counts every attempt, continuations included.
 */
export async function* handOff(scope: RunScope, cut: InterruptedStream): AsyncGenerator<RunEvent, RunResult> {
  const { parts, ctx, log } = scope;
  const { tierName, tier } = parts;
  const { error: err, delivered, failed } = cut;
  const interrupted = (n: number) =>
    tierFailure(tierName, `stream interrupted after the first token: ${err.message}`, Code.Unavailable, n, err);
  if (!err.retryable || !tier.continuation.enabled || cut.toolCalled) throw interrupted(scope.attempts);
  const setup = {
    picker: parts.picker,
    log,
    retryBudget: parts.retryBudget,
    states: parts.states,
    capable: parts.capable,
    request: scope.providerRequest,
    delivered,
    failed,
  };
  const start = (s: DeploymentState, r: ProviderRequest) => startAttempt(scope, s, r, ctx.deadline - Date.now());
  const since = performance.now();
  try {
    const done = yield* continueAnswer({
      ...setup,
      start,
      attempts: scope.attempts,
      limit: scope.limit,
      deadline: ctx.deadline,
      signal: ctx.signal,
    });
    const totalMs = performance.now() - scope.started;
    scope.providerMs += performance.now() - since;
    const { result, continuations } = done;
    return {
      ...result,
      attempts: done.attempts,
      totalMs,
      providerMs: scope.providerMs,
      ttftMs: cut.firstTtftMs,
      cached: false,
      hedged: scope.hedged,
      continuations,
    };
  } catch (notContinued) {
    if (!(notContinued instanceof NotContinued)) {
      throw ctx.signal.aborted ? tierFailure(tierName, "request cancelled", Code.Canceled, scope.attempts, notContinued) : notContinued;
    }
    parts.logger?.warn({ tier: tierName, deployment: failed, reason: notContinued.why }, "interrupted answer not continued");
    throw interrupted(notContinued.attempts);
  }
}

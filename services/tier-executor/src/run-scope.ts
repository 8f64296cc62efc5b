import type { TierConfig } from "@tiermesh/config";
import type { HedgeBudget, Logger, RetryBudget } from "@tiermesh/runtime";
import { ROOT_CONTEXT, type Tracer } from "@tiermesh/telemetry";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { excludeIncapable } from "./answer-continuation.js";
import { requestContextTokens } from "./context-tokens.js";
import { startDeploymentAttempt, type AttemptResult } from "./deployment-attempt.js";
import { RequestAttempts, type DeploymentPicker } from "./deployment-picker.js";
import type { DeploymentState } from "./deployment-state.js";
import type { RacedAttempt } from "./first-token-race.js";
import type { ProviderAdapter, ProviderRequest } from "./providers/provider-adapter.js";
import type { AnswerPiece, RunContext, RunRequest } from "./run-contract.js";
import type { TtftTracker } from "./ttft-tracker.js";

/** What a tier's runner keeps for all its runs: its config, deployments, budgets and recent TTFTs. */
export interface TierParts {
  tierName: string;
  tier: TierConfig;
  providers: ReadonlyMap<string, ProviderAdapter>;
  report: (outcome: OutcomeInit) => void;
  logger: Logger | undefined;
  random: () => number;
  now: () => number;
  states: readonly DeploymentState[];
  picker: DeploymentPicker;
  retryBudget: RetryBudget;
  hedgeBudget: HedgeBudget;
  ttft: TtftTracker;
  /** Deployments whose provider can continue an assistant prefix. */
  capable: (state: DeploymentState) => boolean;
  /** The tier's tracer; undefined while tracing is off. */
  tracer?: Tracer | undefined;
}

/** One request being served by a tier: what it asked, and what it has spent so far. */
export interface RunScope {
  parts: TierParts;
  request: RunRequest;
  providerRequest: ProviderRequest;
  ctx: RunContext;
  /** performance.now() when the run started. */
  started: number;
  /** The request's attempts per deployment, and the deployments it may not use. */
  log: RequestAttempts;
  /** Attempts the request may make in all: 1 for a directed probe, else the tier's and the caller's limit. */
  limit: number;
  /** Attempts started so far, hedges included. */
  attempts: number;
  hedged: boolean;
  /** The request has advised the caller to hedge on another tier (at most once). */
  advised: boolean;
  /** Time spent waiting on providers. */
  providerMs: number;
}

/** Opens the scope of one request; one continuing an answer may only use deployments that can continue it. */
export function openScope(
  parts: TierParts,
  request: RunRequest,
  providerRequest: ProviderRequest,
  ctx: RunContext,
  started: number,
): RunScope {
  const { tier, tierName } = parts;
  const limit = request.deployment ? 1 : Math.min(tier.retries.max_attempts, request.maxAttempts > 0 ? request.maxAttempts : Infinity);
  const log = new RequestAttempts(requestContextTokens(tier, tierName, request));
  if (request.assistantPrefix) excludeIncapable(log, parts.states, parts.capable);
  return { parts, request, providerRequest, ctx, started, log, limit, attempts: 0, hedged: false, advised: false, providerMs: 0 };
}

/**
 * Starts one attempt of the request on `state` with `base` (the request as first sent, or
 * with a longer assistant prefix), within `remainingMs` of the caller's deadline and the
 * tier's attempt timeout; logs it on the request, and feeds its first token to the tier's
 * recent TTFTs. The caller counts it.
 */
export function startAttempt(
  scope: RunScope,
  state: DeploymentState,
  base: ProviderRequest,
  remainingMs: number,
): RacedAttempt<AnswerPiece, AttemptResult> {
  const { parts, request, log } = scope;
  const { tier, tierName, logger } = parts;
  const id = state.deployment.id;
  log.started(id);
  return startDeploymentAttempt({
    tierName,
    state,
    adapter: parts.providers.get(state.deployment.provider)!,
    request: base,
    probe: request.probe,
    requestedTier: request.requestedTier ?? "",
    directed: request.probe && request.deployment !== undefined,
    attemptMs: Math.min(tier.timeouts.attempt_ms, remainingMs),
    deadlineMs: remainingMs,
    ttftMs: tier.timeouts.ttft_ms,
    callerSignal: scope.ctx.signal,
    report: parts.report,
    now: parts.now,
    onFirstToken: (ms) => parts.ttft.record(ms),
    onEnd: (failure) => log.ended(id, failure),
    onSkipped: (reason) => logger?.warn({ tier: tierName, deployment: id, reason }, "malformed stream chunk skipped"),
    onPaceStall: (reason) => logger?.warn({ tier: tierName, deployment: id, reason }, "stream stalled between tokens; cut"),
    tracing: parts.tracer && { tracer: parts.tracer, parent: scope.ctx.trace ?? ROOT_CONTEXT },
  });
}

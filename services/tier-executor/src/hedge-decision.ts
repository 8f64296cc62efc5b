import type { AttemptResult } from "./deployment-attempt.js";
import type { DeploymentState } from "./deployment-state.js";
import type { RacedAttempt } from "./first-token-race.js";
import type { AnswerPiece, RunEvent } from "./run-contract.js";
import { startAttempt, type RunScope, type TierParts } from "./run-scope.js";

/** How one attempt is hedged within its tier, or advised to be hedged on another. */
export interface HedgePlan {
  /** When to hedge, in ms after the primary started; undefined = not at all. */
  after: number | undefined;
  /** Called when the hedge is due: starts it, or gives undefined when none is to be had. */
  start: () => RacedAttempt<AnswerPiece, AttemptResult> | undefined;
  /** Settles with the advice to hedge on another tier, if it comes to that; otherwise never. */
  advice: Promise<RunEvent>;
  /** The attempts of this round so far: the primary, then its hedge. */
  launched: RacedAttempt<AnswerPiece, AttemptResult>[];
}

/** Hedge after the configured delay, or the tier's recent p95 TTFT; undefined when unknown. */
export function hedgeDelay(parts: TierParts): number | undefined {
  const { hedge } = parts.tier;
  const delay = hedge.delay_ms > 0 ? hedge.delay_ms : parts.ttft.p95;
  return delay > 0 ? Math.max(hedge.min_delay_ms, delay) : undefined;
}

/**
 * Plans the hedge of `primary` (on `state`, started at `attemptStart`, already counted): none
 * for probes, with hedging off, or when the request has no attempt left. When due, the hedge
 * goes to another usable deployment of the tier, within the request's attempts, its deadline
 * and the tier's hedge budget. When the tier has nothing else to hedge on, the caller is
 * advised to hedge on another tier instead (once per request), but only while the primary's
 * deployment has been silent since this attempt started.
 */
export function planHedge(
  scope: RunScope,
  state: DeploymentState,
  primary: RacedAttempt<AnswerPiece, AttemptResult>,
  attemptStart: number,
): HedgePlan {
  const { parts, request, ctx, log } = scope;
  const after = scope.attempts < scope.limit && parts.tier.hedge.enabled && !request.probe ? hedgeDelay(parts) : undefined;
  const launched = [primary];
  let advise: (advice: RunEvent) => void = () => undefined;
  const advice = new Promise<RunEvent>((resolve) => (advise = resolve));
  const start = (): RacedAttempt<AnswerPiece, AttemptResult> | undefined => {
    const left = ctx.deadline - Date.now();
    if (scope.attempts >= scope.limit || left <= 0) return undefined;
    const other = parts.picker.pick(log);
    if (!other) {
      // Nothing here to hedge on: the caller may hedge on another tier (once per request),
      // but only while the deployment has been silent since this attempt started. A slow
      // answer among others that flow is the tier's normal tail, and a lower tier must
      // not win it; silence is what a hang looks like.
      if (!scope.advised && state.stall.quietSince(attemptStart)) {
        scope.advised = true;
        const reason = `tier ${parts.tierName} has no other usable deployment to hedge on (${parts.picker.describe(log)})`;
        advise({ type: "hedge_advice", reason, waitedMs: performance.now() - scope.started });
      }
      return undefined;
    }
    if (!parts.hedgeBudget.tryHedge()) {
      other.breaker.abandon();
      return undefined;
    }
    scope.attempts++;
    scope.hedged = true;
    const hedge = startAttempt(scope, other, scope.providerRequest, left);
    launched.push(hedge);
    return hedge;
  };
  return { after, start, advice, launched };
}

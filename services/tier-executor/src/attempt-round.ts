import { handOff } from "./continuation-handoff.js";
import type { DeploymentState } from "./deployment-state.js";
import { raceFirstToken, RaceFailure, raceWithNotice } from "./first-token-race.js";
import { planHedge } from "./hedge-decision.js";
import { ProviderError } from "./providers/provider-error.js";
import type { RunEvent, RunResult } from "./run-contract.js";
import { startAttempt, type RunScope } from "./run-scope.js";

/** How a round ended: the request served, or the attempt's failure for the retry loop to weigh. */
export type RoundOutcome = { result: RunResult } | { error: ProviderError };

/**
 * One round of a request on its tier: an attempt on `state` (within `remainingMs`), hedged as
 * planHedge decides, raced to the first token; the winner's text is passed on as it arrives
 * and the loser cancelled. A failure before any piece ends the round with its error (the
 * retry loop may try again); after one, the answer is handed to its continuation, which
 * serves the request or fails it. A consumer that stops early cancels what is still running.
 */
export async function* attemptRound(scope: RunScope, state: DeploymentState, remainingMs: number): AsyncGenerator<RunEvent, RoundOutcome> {
  const primary = startAttempt(scope, state, scope.providerRequest, remainingMs);
  scope.attempts++;
  const attemptStart = performance.now();
  const hedge = planHedge(scope, state, primary, attemptStart);
  let delivered = "";
  /** A tool call reached the caller: the answer cannot be continued elsewhere. */
  let toolCalled = false;
  /** The deployment whose stream is passed on, and when its first token came (from the run's start). */
  let raced: string | undefined;
  let firstTtft = 0;
  try {
    const racing = raceFirstToken(primary, hedge.after, hedge.start);
    const winner = yield* raceWithNotice(racing, hedge.advice, () => {
      for (const a of hedge.launched) a.cancel("request over");
      void racing.then(
        (w) => w.attempt.run.return(undefined as never),
        () => undefined,
      );
    });
    let step = winner.first;
    raced = winner.attempt.label;
    firstTtft = performance.now() - scope.started;
    try {
      while (!step.done) {
        if (step.value.type === "text") delivered += step.value.text;
        else toolCalled = true;
        yield step.value;
        step = await winner.attempt.run.next();
      }
    } finally {
      if (!step.done) await winner.attempt.run.return(undefined as never).catch(() => undefined);
    }
    scope.providerMs += performance.now() - attemptStart;
    const totalMs = performance.now() - scope.started;
    // The winner's own time to first token, plus when it started (a hedge starts late).
    const ttftMs = step.value.ttftMs + (winner.attempt.startedAt - scope.started);
    const a = step.value;
    const { attempts, providerMs, hedged } = scope;
    // Field by field: on Node 20, `{ ...a, more }` gives every result new hidden classes,
    // which the young-generation collector promotes (1.7 KB per request: test/bench/promotion-patterns.mjs).
    return {
      result: {
        deployment: a.deployment,
        finishReason: a.finishReason,
        promptTokens: a.promptTokens,
        completionTokens: a.completionTokens,
        usageEstimated: a.usageEstimated,
        costUsd: a.costUsd,
        attempts,
        totalMs,
        providerMs,
        ttftMs,
        cached: false,
        hedged,
        continuations: 0,
      },
    };
  } catch (cause) {
    scope.providerMs += performance.now() - attemptStart;
    const last = cause instanceof RaceFailure ? cause.last : cause;
    const error = last instanceof ProviderError ? last : new ProviderError("server", String(last), { cause: last });
    if (delivered === "" && !toolCalled) return { error };
    return { result: yield* handOff(scope, { error, delivered, toolCalled, failed: raced ?? "", firstTtftMs: firstTtft }) };
  }
}

import type { RetryBudget } from "@tiermesh/runtime";
import type { AttemptResult } from "./deployment-attempt.js";
import type { DeploymentPicker, RequestAttempts } from "./deployment-picker.js";
import type { DeploymentState } from "./deployment-state.js";
import type { RacedAttempt } from "./first-token-race.js";
import type { AnswerPiece } from "./run-contract.js";
import { leftAfter } from "./provider-request.js";
import type { ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError } from "./providers/provider-error.js";

export interface ContinuationSetup {
  picker: DeploymentPicker;
  /** The request's attempts so far; deployments excluded here are never picked. */
  log: RequestAttempts;
  retryBudget: RetryBudget;
  /** The tier's deployments, and which of them have a provider that can continue an assistant prefix. */
  states: readonly DeploymentState[];
  capable: (state: DeploymentState) => boolean;
  start: (state: DeploymentState, request: ProviderRequest) => RacedAttempt<AnswerPiece, AttemptResult>;
  /** The request as first sent (with the assistant prefix it came with, if any). */
  request: ProviderRequest;
  /** Text the failed stream delivered on top of that prefix. */
  delivered: string;
  /** The deployment whose stream failed. */
  failed: string;
  /** Attempts the request has made, and may make in all. */
  attempts: number;
  limit: number;
  /** Absolute deadline, epoch ms. */
  deadline: number;
  signal: AbortSignal;
}

/** An answer continued to its end. */
export interface Continued {
  result: AttemptResult;
  /** Attempts the request has made in all. */
  attempts: number;
  /** Continuation attempts started (the last one succeeded). */
  continuations: number;
}

/** No deployment could continue the answer; `why` says what each try found. */
export class NotContinued extends Error {
  override readonly name = "NotContinued";
  constructor(
    readonly attempts: number,
    readonly why: string,
  ) {
    super(`not continued: ${why}`);
  }
}

/**
 * Continues an answer whose stream failed after text reached the caller, on the tier's other
 * deployments, one at a time: each gets everything delivered so far as an assistant prefix and
 * its text is passed on as it comes, so the caller sees one answer with no gap or repeat.
 *
 * Guarantees: only deployments whose provider can continue a prefix, never the one that
 * failed, each tried at most once; each asks only for the completion tokens the answer has
 * left; every try is an attempt under the request's limit and the
 * tier's retry budget; a try that fails after adding text hands on a longer prefix; a refused
 * prefix (a client error) just moves on. Throws NotContinued when nothing is left to try, the
 * caller's ProviderError when it cancelled.
 */
export async function* continueAnswer(s: ContinuationSetup): AsyncGenerator<AnswerPiece, Continued> {
  let prefix = (s.request.assistantPrefix ?? "") + s.delivered;
  /** The prefix the request came with (its tokens already came off its max_tokens). */
  const base = s.request.assistantPrefix?.length ?? 0;
  let attempts = s.attempts;
  let continuations = 0;
  const tried: string[] = [];
  excludeIncapable(s.log, s.states, s.capable);
  s.log.exclude(s.failed, "its stream failed on this request");
  while (!s.signal.aborted && Date.now() < s.deadline) {
    if (attempts >= s.limit) {
      tried.push("no attempts left");
      break;
    }
    if (!s.picker.anyUsable(s.log)) {
      tried.push(`no other deployment can continue it (${s.picker.describe(s.log)})`);
      break;
    }
    if (!s.retryBudget.tryRetry()) {
      tried.push("retry budget exhausted");
      break;
    }
    const state = s.picker.pick(s.log);
    if (!state) break;
    const id = state.deployment.id;
    s.log.exclude(id, "already tried to continue this answer");
    const maxTokens = leftAfter(s.request.maxTokens, prefix.slice(base));
    const attempt = s.start(state, { ...s.request, assistantPrefix: prefix, maxTokens });
    attempts++;
    continuations++;
    let step: IteratorResult<AnswerPiece, AttemptResult> | undefined;
    let toolCalled = false;
    try {
      step = await attempt.run.next();
      while (!step.done) {
        if (step.value.type === "text") prefix += step.value.text;
        else toolCalled = true;
        yield step.value;
        step = await attempt.run.next();
      }
      return { result: step.value, attempts, continuations };
    } catch (cause) {
      const err = cause instanceof ProviderError ? cause : new ProviderError("server", String(cause), { cause });
      if (err.failure === "cancelled" && s.signal.aborted) throw err;
      if (toolCalled) {
        tried.push(`${id} failed after it began a tool call, which cannot be continued (${err.message})`);
        break;
      }
      tried.push(err.failure === "client" ? `${id} refused the prefix (${err.message})` : `${id} failed (${err.message})`);
    } finally {
      if (step && !step.done) await attempt.run.return(undefined as never).catch(() => undefined);
    }
  }
  throw new NotContinued(attempts, tried.join("; ") || "no time left");
}

/** Excludes the deployments that cannot continue a prefix from a request that carries one. */
export function excludeIncapable(log: RequestAttempts, states: readonly DeploymentState[], capable: (s: DeploymentState) => boolean): void {
  for (const s of states) if (!capable(s)) log.exclude(s.deployment.id, "its provider cannot continue an answer");
}

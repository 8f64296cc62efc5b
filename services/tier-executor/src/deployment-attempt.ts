import { OutcomeStatus } from "@tiermesh/proto";
import { CallAbortController } from "@tiermesh/runtime";
import { AttemptSpan, type AttemptTracing } from "./attempt-span.js";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { costUsd, estimatePromptTokens, estimateTokens } from "./cost.js";
import type { Deployment, DeploymentState } from "./deployment-state.js";
import type { RacedAttempt } from "./first-token-race.js";
import type { PaceWatch } from "./inter-token-stall.js";
import type { ProviderAdapter, ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";
import type { AnswerPiece } from "./run-contract.js";

/** What one successful attempt produced. */
export interface AttemptResult {
  deployment: Deployment;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  usageEstimated: boolean;
  costUsd: number;
  /** From the attempt's own start. */
  ttftMs: number;
}

export interface AttemptSetup {
  tierName: string;
  state: DeploymentState;
  adapter: ProviderAdapter;
  /** The request, without the deployment's model. */
  request: ProviderRequest;
  probe: boolean;
  /** Tier the request was classified into, reported with its outcome ("" when not routed). */
  requestedTier: string;
  /** A canary probe sent to this deployment on purpose, whatever its breaker says. */
  directed: boolean;
  /** Bounds the attempt (within `deadlineMs`); once its answer streams under the inter-token watch, only `deadlineMs` does. */
  attemptMs: number;
  /** The caller's time left when the attempt started. */
  deadlineMs: number;
  /** The tier's time-to-first-token timeout. */
  ttftMs: number;
  callerSignal: AbortSignal;
  report: (outcome: OutcomeInit) => void;
  /** Epoch ms, for 429 cool-downs. */
  now: () => number;
  /** Every first token, for the tier's hedge delay. */
  onFirstToken: (ttftMs: number) => void;
  /** The attempt is over: `undefined` on success, otherwise how it failed. */
  onEnd: (failure: ProviderFailure | undefined) => void;
  /** A malformed chunk was skipped (already counted on the deployment). */
  onSkipped?: (reason: string) => void;
  /** The stream went silent between tokens and was cut (its breaker has heard of it). */
  onPaceStall?: (reason: string) => void;
  /** Traces the provider call (a span per attempt); absent while tracing is off. */
  tracing?: AttemptTracing | undefined;
}

export const outcomeOfFailure: Record<ProviderFailure, OutcomeStatus> = {
  timeout: OutcomeStatus.TIMEOUT,
  stalled: OutcomeStatus.STALLED,
  rate_limited: OutcomeStatus.RATE_LIMITED,
  server: OutcomeStatus.ERROR,
  network: OutcomeStatus.ERROR,
  client: OutcomeStatus.CLIENT_ERROR,
  // Too long for this model: a routing miss, not the deployment's (nor the tier's) failure.
  context_length: OutcomeStatus.CLIENT_ERROR,
  cancelled: OutcomeStatus.CANCELLED,
};

/** Failures that say the deployment is unwell (client errors and cancellations say nothing about it). */
const BREAKER_FAILURES = new Set<ProviderFailure>(["server", "network", "timeout"]);

/** Starts one attempt on one deployment, ready to be raced against a hedge. */
export function startDeploymentAttempt(setup: AttemptSetup): RacedAttempt<AnswerPiece, AttemptResult> {
  const controller = new CallAbortController();
  return {
    run: attempt(setup, controller),
    cancel: (why) => controller.abort(new ProviderError("cancelled", `${setup.state.deployment.id}: ${why}`)),
    startedAt: performance.now(),
    label: setup.state.deployment.id,
  };
}

/**
 * One attempt on one deployment: yields its answer pieces (text, tool call pieces), returns its result, throws a ProviderError.
 *
 * Guarantees: bounded by the TTFT timeout, and by `attemptMs` until its answer streams under
 * the inter-token watch, then by the caller's deadline (a long answer that keeps coming is
 * never cut at `attemptMs`; a silence is, by the watch); the caller's cancellation and
 * a stall of the deployment abort it; exactly one outcome is reported (none for probes: the
 * monitor that sent them measures them), a stall's at once; the breaker hears of server,
 * network and timeout failures and of successes, not of client errors or cancellations; a
 * 429 (or any answer with a Retry-After) cools the deployment down for that long, capped. A
 * directed canary probe that succeeds closes an open or half-open breaker and clears the
 * stall; one that fails extends nothing. A probe's call and cost go to the deployment's tally.
 */
async function* attempt(s: AttemptSetup, controller: AbortController): AsyncGenerator<AnswerPiece, AttemptResult> {
  const { state, probe, directed } = s;
  const { deployment } = state;
  const abort = (failure: ProviderFailure, message: string) => controller.abort(new ProviderError(failure, `${deployment.id}: ${message}`));
  const onCallerAbort = () => abort("cancelled", "caller cancelled");
  if (s.callerSignal.aborted) onCallerAbort();
  s.callerSignal.addEventListener("abort", onCallerAbort, { once: true });
  let ttftTimer: NodeJS.Timeout | undefined;
  /** A timeout cut the attempt before its first token. */
  let cutWaiting = false;
  const timeout = (message: string) => () => {
    if (ttftTimer) cutWaiting = true;
    abort("timeout", message);
  };
  let attemptTimer = setTimeout(timeout(`no answer within ${s.attemptMs} ms`), s.attemptMs);
  const ttftLimit = Math.min(s.ttftMs, s.attemptMs);
  ttftTimer = setTimeout(timeout(`no first token within ${ttftLimit} ms`), ttftLimit);
  const start = performance.now();
  let ttftMs = 0;
  let completion = "";
  let settled = false;
  let failure: ProviderFailure | undefined;
  let failureMessage: string | undefined;
  const span = s.tracing && new AttemptSpan(s.tracing, s.tierName, deployment, s.request, s.adapter.baseUrl, probe);
  let reported = OutcomeStatus.CANCELLED;
  state.outstanding++;
  const report = (status: OutcomeStatus, promptTokens = 0, completionTokens = 0, cost = 0) => {
    if (settled) return;
    settled = true;
    reported = status;
    // Probes are measured by the monitor that sent them; reporting them here too would count them twice.
    if (probe) return state.probes.called(cost);
    s.report({
      tier: s.tierName,
      model: deployment.model,
      provider: deployment.provider,
      deployment: deployment.id,
      status,
      ttftMs: Math.round(ttftMs),
      latencyMs: Math.round(performance.now() - start),
      promptTokens,
      completionTokens,
      costUsd: cost,
      probe,
      atMs: BigInt(Date.now()),
      requestedTier: s.requestedTier,
      ...span?.fields,
    });
  };
  // Probes do not wait under the stall detector: a hung probe must not re-open a breaker.
  const watch = probe
    ? undefined
    : state.stall.watch(ttftLimit, (reason) => {
        report(OutcomeStatus.STALLED);
        abort("stalled", `stalled: ${reason}`);
      });
  let pace: PaceWatch | undefined;
  const firstToken = () => {
    pace?.token();
    if (!ttftTimer) return;
    clearTimeout(ttftTimer);
    ttftTimer = undefined;
    ttftMs = performance.now() - start;
    span?.firstToken(ttftMs);
    state.ttft.update(ttftMs);
    s.onFirstToken(ttftMs);
    if (watch) watch.firstToken(ttftMs);
    else state.stall.firstToken(ttftMs);
    // From the first token on, a silence longer than the deployment's own pace allows is a stall too.
    if (!probe) {
      pace = state.pace.watch((reason) => {
        state.breaker.record(false);
        report(OutcomeStatus.STALLED);
        s.onPaceStall?.(reason);
        abort("stalled", `stalled: ${reason}`);
      });
      // A started answer is watched for silences: it may go on as long as it keeps coming, up
      // to the caller's deadline (like a proxy's stream idle timeout instead of a total one).
      if (state.pace.enabled && s.deadlineMs > s.attemptMs) {
        clearTimeout(attemptTimer);
        const left = Math.max(1, s.deadlineMs - (performance.now() - start));
        attemptTimer = setTimeout(timeout(`answer not finished within the request's deadline (${Math.round(s.deadlineMs)} ms)`), left);
      }
    }
  };
  try {
    const request = span ? { ...s.request, model: deployment.model, headers: span.headers } : { ...s.request, model: deployment.model };
    for await (const event of s.adapter.stream(request, controller.signal)) {
      // Aborted (stall, timeout, cancel) while an event was already on its way: it is not ours to pass on.
      if (controller.signal.aborted) break;
      if (event.type === "delta") {
        firstToken();
        completion += event.text;
        yield { type: "text", text: event.text };
        continue;
      }
      if (event.type === "tool_call") {
        // A tool call is the answer starting, as text is.
        firstToken();
        completion += event.call.name + event.call.arguments;
        yield { type: "tool_call", call: event.call };
        continue;
      }
      if (event.type === "skipped") {
        // One bad chunk does not spoil the answer: count it and read on.
        state.skippedChunks++;
        s.onSkipped?.(event.reason);
        continue;
      }
      firstToken();
      const promptTokens = event.usage?.promptTokens ?? estimatePromptTokens(s.request.messages);
      const completionTokens = event.usage?.completionTokens ?? estimateTokens(completion);
      const cost = costUsd(deployment.price, promptTokens, completionTokens);
      span?.answered(event.model ?? deployment.model, event.finishReason, promptTokens, completionTokens, event.usage === undefined);
      // A directed probe's answer is fresh evidence: real traffic need not wait out open_ms.
      if (directed && state.breaker.state !== "closed") state.recover();
      else state.breaker.record(true);
      report(OutcomeStatus.OK, promptTokens, completionTokens, cost);
      return {
        deployment,
        finishReason: event.finishReason,
        promptTokens,
        completionTokens,
        usageEstimated: event.usage === undefined,
        costUsd: cost,
        ttftMs,
      };
    }
    throw new ProviderError("server", `${deployment.id}: stream ended without a result`);
  } catch (cause) {
    const reason: unknown = controller.signal.reason;
    const err =
      reason instanceof ProviderError
        ? reason
        : cause instanceof ProviderError
          ? cause
          : new ProviderError("server", String(cause), { cause });
    failure = err.failure;
    failureMessage = err.message;
    judge(state, directed, err.failure);
    state.coolDown(err.failure, err.options.retryAfterMs, s.now());
    report(outcomeOfFailure[err.failure]);
    throw err;
  } finally {
    if (!settled) {
      // The caller stopped reading: the loop above closed the provider stream on its way out.
      failure = "cancelled";
      if (!directed) state.breaker.abandon();
      report(OutcomeStatus.CANCELLED);
    }
    state.outstanding--;
    pace?.stop();
    clearTimeout(attemptTimer);
    if (ttftTimer) clearTimeout(ttftTimer);
    s.callerSignal.removeEventListener("abort", onCallerAbort);
    span?.end(OutcomeStatus[reported], failure, failureMessage);
    // After this attempt's own outcome: a timeout here may prove a stall and abort the others;
    // one cancelled before its first token (a lost hedge race) still counts as silence.
    if (failure === "cancelled" && ttftTimer) watch?.abandon();
    else watch?.end(cutWaiting);
    s.onEnd(failure);
  }
}

/** Tells the breaker what a failure says about the deployment. */
function judge(state: DeploymentState, directed: boolean, failure: ProviderFailure): void {
  // A stall has already told the breaker: a first-token stall opened it, a stream gone silent counted as a failure.
  if (failure === "stalled") return;
  if (directed) {
    // A directed probe took no half-open slot, and a failed one must not extend an open breaker.
    if (BREAKER_FAILURES.has(failure) && state.breaker.state === "closed") state.breaker.record(false);
    return;
  }
  if (BREAKER_FAILURES.has(failure)) state.breaker.record(false);
  else state.breaker.abandon();
}

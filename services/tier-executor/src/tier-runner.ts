import { Code, ConnectError } from "@connectrpc/connect";
import type { TierConfig } from "@tiermesh/config";
import { ATTEMPTS_HEADER, CONTEXT_LENGTH_EXCEEDED, ERROR_REASON_HEADER, RETRY_AFTER_HEADER, type CompletionInput } from "@tiermesh/proto";
import { HedgeBudget, RetryBudget, type Logger } from "@tiermesh/runtime";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { Bulkhead, BulkheadFullError, BulkheadTimeoutError } from "./bulkhead.js";
import { requestContextTokens } from "./context-tokens.js";
import { startDeploymentAttempt, type AttemptResult } from "./deployment-attempt.js";
import { DeploymentPicker, RequestAttempts } from "./deployment-picker.js";
import { DeploymentState, type Deployment } from "./deployment-state.js";
import { raceFirstToken, RaceFailure, raceWithNotice, type RacedAttempt } from "./first-token-race.js";
import { probeRefusal } from "./probe-refusal.js";
import type { ProviderAdapter, ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";
import { continueAnswer, excludeIncapable, NotContinued } from "./answer-continuation.js";
import { cacheKeyOf, providerRequestOf } from "./provider-request.js";
import { backoff } from "./retry-backoff.js";
import { isDeterministic, ResponseCache } from "./response-cache.js";
import { systemClock, type Clock } from "./stall-detector.js";
import { TtftTracker } from "./ttft-tracker.js";

export interface RunRequest {
  input: CompletionInput;
  probe: boolean;
  tenant: string;
  /** Attempts this request may still make across layers; 0 = the tier's own limit. */
  maxAttempts: number;
  /** Probes only: call this deployment once, whatever its breaker says; refused while it cools down (429, Retry-After). */
  deployment?: string | undefined;
  /** Tokens of the input's messages as the classifier counted them; 0 or absent = count here. */
  promptTokens?: number | undefined;
  /** Continue this answer (text already delivered elsewhere); only deployments that can continue a prefix serve it. */
  assistantPrefix?: string | undefined;
}

export interface RunContext {
  /** Absolute deadline, epoch ms. */
  deadline: number;
  signal: AbortSignal;
}

export interface RunResult {
  deployment: Deployment;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  usageEstimated: boolean;
  costUsd: number;
  attempts: number;
  ttftMs: number;
  totalMs: number;
  providerMs: number;
  cached: boolean;
  hedged: boolean;
  /** Times the answer was continued on another deployment after its stream failed. */
  continuations: number;
}

/**
 * What a run yields before its result: answer text, or (at most once, before any text) the
 * advice to hedge on another tier because this one has nothing left to hedge on.
 */
export type RunEvent =
  | { type: "text"; text: string }
  | {
      type: "hedge_advice";
      /** Why the tier cannot hedge itself. */
      reason: string;
      /** How long the request had waited for a first token, from the start of the run. */
      waitedMs: number;
    };

interface CachedAnswer {
  content: string;
  result: Omit<AttemptResult, "ttftMs">;
}

export interface TierRunnerOptions {
  tierName: string;
  tier: TierConfig;
  providers: ReadonlyMap<string, ProviderAdapter>;
  report: (outcome: OutcomeInit) => void;
  random?: () => number;
  now?: () => number;
  /** Monotonic time and timers for stall detection. */
  clock?: Clock;
  logger?: Logger;
}

const codeOfFailure: Record<ProviderFailure, Code> = {
  timeout: Code.DeadlineExceeded,
  stalled: Code.Unavailable,
  rate_limited: Code.ResourceExhausted,
  server: Code.Unavailable,
  network: Code.Unavailable,
  client: Code.InvalidArgument,
  context_length: Code.InvalidArgument,
  cancelled: Code.Canceled,
};

/**
 * Serves one request from a tier's pool, keeping the tier's promises: its prompt settings,
 * a bulkhead (bounded concurrency and queue), deployment selection that skips open circuit
 * breakers and 429 cool-downs, retries within the retry budget and the request's attempt
 * limit (never back to a deployment that timed out or stalled on this request), hedging
 * after the tier's recent p95 time to first token (or advice to hedge on another tier when
 * nothing here can take the hedge), stall detection per deployment, a response cache for
 * deterministic requests, and the caller's deadline on every attempt. Yields answer text as
 * it arrives; fails over (restarts) only before the first piece of text was yielded, and
 * after it continues the answer from its text on another deployment (see continueAnswer).
 */
export class TierRunner {
  private readonly states: DeploymentState[];
  private readonly picker: DeploymentPicker;
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly bulkhead: Bulkhead;
  private readonly retryBudget: RetryBudget;
  private readonly hedgeBudget: HedgeBudget;
  private readonly ttft = new TtftTracker();
  private readonly cache: ResponseCache<CachedAnswer> | undefined;

  constructor(private readonly options: TierRunnerOptions) {
    const { tier, logger } = options;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.states = DeploymentState.fromConfig(tier, this.now, options.clock ?? systemClock, (state, stall) =>
      logger?.warn(
        { tier: options.tierName, deployment: state.deployment.id, ...stall },
        "deployment stalled: no first token within the stall threshold; circuit breaker opened, waiting attempts moved on",
      ),
    );
    this.picker = new DeploymentPicker(this.states, tier.pool.strategy, this.random, this.now, tier.stall.hold_ms);
    this.bulkhead = new Bulkhead(tier.bulkhead, this.now);
    this.retryBudget = new RetryBudget(tier.retries.budget_ratio, tier.retries.min_retries_per_second, this.now);
    this.hedgeBudget = new HedgeBudget(tier.hedge.max_extra_ratio);
    this.cache = tier.cache.enabled
      ? new ResponseCache<CachedAnswer>(tier.cache, (a) => a.content.length * 2 + 256, this.now)
      : undefined;
  }

  /** Requests holding and waiting for a bulkhead slot. */
  get load(): { inFlight: number; queued: number } {
    return { inFlight: this.bulkhead.inUse, queued: this.bulkhead.queued };
  }

  /** Deployments with their breaker state, stall detector, load and speed (for metrics and tests). */
  get deployments(): readonly DeploymentState[] {
    return this.states;
  }

  async *run(request: RunRequest, ctx: RunContext): AsyncGenerator<RunEvent, RunResult> {
    const started = performance.now();
    const { tierName, tier } = this.options;
    const directed = request.deployment === undefined ? undefined : this.states.find((s) => s.deployment.id === request.deployment);
    const refusal = directed && probeRefusal(tierName, directed, this.now());
    if (refusal) throw refusal;
    const providerRequest = providerRequestOf(tierName, tier, request);
    const cacheable = this.cache && !request.probe && !request.assistantPrefix && isDeterministic(request.input.temperature);
    const key = cacheable ? cacheKeyOf(tierName, providerRequest) : undefined;
    const hit = key === undefined ? undefined : this.cache!.get(key);
    if (hit) {
      if (hit.content) yield { type: "text", text: hit.content };
      const totalMs = performance.now() - started;
      return { ...hit.result, costUsd: 0, attempts: 0, ttftMs: totalMs, totalMs, providerMs: 0, cached: true, hedged: false, continuations: 0 };
    }
    if (request.assistantPrefix) this.checkContinuable();
    // Canary probes do not take the tier's capacity from its users.
    const release = request.probe ? () => {} : await this.acquireSlot(ctx);
    const run = this.serve(request, providerRequest, ctx, started);
    try {
      let content = "";
      for (;;) {
        const step = await run.next();
        if (step.done) {
          if (key !== undefined) this.cache!.set(key, { content, result: step.value });
          return step.value;
        }
        if (key !== undefined && step.value.type === "text") content += step.value.text;
        yield step.value;
      }
    } finally {
      // A caller that stops reading must not leave the provider request open.
      await run.return(undefined as never).catch(() => undefined);
      release();
    }
  }

  private async *serve(request: RunRequest, providerRequest: ProviderRequest, ctx: RunContext, started: number): AsyncGenerator<RunEvent, RunResult> {
    const { tier } = this.options;
    const limit = request.deployment ? 1 : Math.min(tier.retries.max_attempts, request.maxAttempts > 0 ? request.maxAttempts : Infinity);
    const log = new RequestAttempts(requestContextTokens(tier, this.options.tierName, request));
    if (request.assistantPrefix) excludeIncapable(log, this.states, this.capable);
    let attempts = 0;
    let hedged = false;
    let advised = false;
    let lastError: ProviderError | undefined;
    let providerMs = 0;
    if (!request.probe) {
      this.retryBudget.deposit();
      this.hedgeBudget.deposit();
    }
    while (attempts < limit) {
      if (attempts > 0) {
        // Nothing left to try: say so at once, without spending the retry budget or a backoff.
        if (!this.picker.anyUsable(log)) {
          lastError = this.picker.whyNoneUsable(log, lastError, this.options.tierName);
          break;
        }
        if (!this.retryBudget.tryRetry()) {
          lastError = new ProviderError(lastError?.failure ?? "server", `${lastError?.message ?? "failed"} (retry budget exhausted)`);
          break;
        }
        // A stall has already cost its wait, and the next deployment is not the stalled one
        // (nor, after a refusal for length, the one that refused).
        if (lastError?.failure !== "stalled" && lastError?.failure !== "context_length") {
          await backoff(this.options.tier.retries.backoff_ms, attempts, this.random, ctx);
        }
      }
      const remaining = ctx.deadline - Date.now();
      if (remaining <= 0 || ctx.signal.aborted) break;
      const state = request.deployment ? this.states.find((s) => s.deployment.id === request.deployment) : this.picker.pick(log);
      if (!state) {
        lastError = this.picker.whyNoneUsable(log, lastError, this.options.tierName);
        break;
      }
      const primary = this.startAttempt(state, providerRequest, request, log, remaining, ctx.signal);
      attempts++;
      const attemptStart = performance.now();
      const hedgeAfter = attempts < limit && tier.hedge.enabled && !request.probe ? this.hedgeDelay() : undefined;
      const launched = [primary];
      let advise: (advice: RunEvent) => void = () => undefined;
      const advice = new Promise<RunEvent>((resolve) => (advise = resolve));
      let delivered = "";
      /** The deployment whose stream is passed on, and when its first token came (from the run's start). */
      let raced: string | undefined;
      let firstTtft = 0;
      try {
        const racing = raceFirstToken(primary, hedgeAfter, () => {
          const left = ctx.deadline - Date.now();
          if (attempts >= limit || left <= 0) return undefined;
          const other = this.picker.pick(log);
          if (!other) {
            // Nothing here to hedge on: the caller may hedge on another tier (once per request),
            // but only while the deployment has been silent since this attempt started. A slow
            // answer among others that flow is the tier's normal tail, and a lower tier must
            // not win it; silence is what a hang looks like.
            if (!advised && state.stall.quietSince(attemptStart)) {
              advised = true;
              const reason = `tier ${this.options.tierName} has no other usable deployment to hedge on (${this.picker.describe(log)})`;
              advise({ type: "hedge_advice", reason, waitedMs: performance.now() - started });
            }
            return undefined;
          }
          if (!this.hedgeBudget.tryHedge()) {
            other.breaker.abandon();
            return undefined;
          }
          attempts++;
          hedged = true;
          const hedge = this.startAttempt(other, providerRequest, request, log, left, ctx.signal);
          launched.push(hedge);
          return hedge;
        });
        const winner = yield* raceWithNotice(racing, advice, () => {
          for (const a of launched) a.cancel("request over");
          void racing.then((w) => w.attempt.run.return(undefined as never), () => undefined);
        });
        let step = winner.first;
        raced = winner.attempt.label;
        firstTtft = performance.now() - started;
        try {
          while (!step.done) {
            delivered += step.value;
            yield { type: "text", text: step.value };
            step = await winner.attempt.run.next();
          }
        } finally {
          if (!step.done) await winner.attempt.run.return(undefined as never).catch(() => undefined);
        }
        providerMs += performance.now() - attemptStart;
        const totalMs = performance.now() - started;
        // The winner's own time to first token, plus when it started (a hedge starts late).
        const ttftMs = step.value.ttftMs + (winner.attempt.startedAt - started);
        return { ...step.value, attempts, totalMs, providerMs, ttftMs, cached: false, hedged, continuations: 0 };
      } catch (cause) {
        providerMs += performance.now() - attemptStart;
        const last = cause instanceof RaceFailure ? cause.last : cause;
        const err = last instanceof ProviderError ? last : new ProviderError("server", String(last), { cause: last });
        if (delivered !== "") {
          const failed = raced ?? "";
          const interrupted = (n: number) => this.failure(`stream interrupted after the first token: ${err.message}`, Code.Unavailable, n, err);
          if (!err.retryable || !tier.continuation.enabled) throw interrupted(attempts);
          const setup = { picker: this.picker, log, retryBudget: this.retryBudget, states: this.states, capable: this.capable, request: providerRequest, delivered, failed };
          const start = (s: DeploymentState, r: ProviderRequest) => this.startAttempt(s, r, request, log, ctx.deadline - Date.now(), ctx.signal);
          const since = performance.now();
          try {
            const done = yield* continueAnswer({ ...setup, start, attempts, limit, deadline: ctx.deadline, signal: ctx.signal });
            const totalMs = performance.now() - started;
            providerMs += performance.now() - since;
            const { result, continuations } = done;
            return { ...result, attempts: done.attempts, totalMs, providerMs, ttftMs: firstTtft, cached: false, hedged, continuations };
          } catch (notContinued) {
            if (!(notContinued instanceof NotContinued)) {
              throw ctx.signal.aborted ? this.failure("request cancelled", Code.Canceled, attempts, notContinued) : notContinued;
            }
            this.options.logger?.warn({ tier: this.options.tierName, deployment: failed, reason: notContinued.why }, "interrupted answer not continued");
            throw interrupted(notContinued.attempts);
          }
        }
        lastError = err;
        if (!err.retryable) break;
      }
    }
    if (ctx.signal.aborted) throw this.failure("request cancelled", Code.Canceled, attempts);
    if (!lastError || Date.now() >= ctx.deadline) {
      throw this.failure(`deadline exceeded${lastError ? ` (last error: ${lastError.message})` : ""}`, Code.DeadlineExceeded, attempts);
    }
    const retryAfter = lastError.options.retryAfterMs;
    throw this.failure(lastError.message, codeOfFailure[lastError.failure], attempts, lastError, retryAfter);
  }

  private startAttempt(
    state: DeploymentState,
    base: ProviderRequest,
    request: RunRequest,
    log: RequestAttempts,
    remainingMs: number,
    callerSignal: AbortSignal,
  ): RacedAttempt<string, AttemptResult> {
    const { tier, tierName } = this.options;
    const id = state.deployment.id;
    log.started(id);
    return startDeploymentAttempt({
      tierName,
      state,
      adapter: this.options.providers.get(state.deployment.provider)!,
      request: base,
      probe: request.probe,
      directed: request.probe && request.deployment !== undefined,
      attemptMs: Math.min(tier.timeouts.attempt_ms, remainingMs),
      ttftMs: tier.timeouts.ttft_ms,
      callerSignal,
      report: this.options.report,
      now: this.now,
      onFirstToken: (ms) => this.ttft.record(ms),
      onEnd: (failure) => log.ended(id, failure),
      onSkipped: (reason) => this.options.logger?.warn({ tier: tierName, deployment: id, reason }, "malformed stream chunk skipped"),
      onPaceStall: (reason) => this.options.logger?.warn({ tier: tierName, deployment: id, reason }, "stream stalled between tokens; cut"),
    });
  }

  private failure(message: string, code: Code, attempts: number, cause?: unknown, retryAfterMs?: number): ConnectError {
    const metadata: Record<string, string> = { [ATTEMPTS_HEADER]: String(attempts) };
    if (retryAfterMs !== undefined) metadata[RETRY_AFTER_HEADER] = String(Math.max(1, Math.ceil(retryAfterMs / 1_000)));
    if (cause instanceof ProviderError && cause.failure === "context_length") metadata[ERROR_REASON_HEADER] = CONTEXT_LENGTH_EXCEEDED;
    return new ConnectError(`tier ${this.options.tierName}: ${message}`, code, metadata, undefined, cause);
  }

  private async acquireSlot(ctx: RunContext): Promise<() => void> {
    try {
      return await this.bulkhead.acquire(ctx.signal, ctx.deadline);
    } catch (cause) {
      if (cause instanceof BulkheadFullError) {
        throw this.failure(`over capacity (${cause.message})`, Code.ResourceExhausted, 0, cause, cause.retryAfterMs);
      }
      if (cause instanceof BulkheadTimeoutError && cause.reason === "deadline") {
        throw this.failure(`deadline passed while queued for capacity (${cause.message})`, Code.DeadlineExceeded, 0, cause);
      }
      throw this.failure("request cancelled while queued", Code.Canceled, 0, cause);
    }
  }

  /** Hedge after the configured delay, or the tier's recent p95 TTFT; undefined when unknown. */
  private hedgeDelay(): number | undefined {
    const { hedge } = this.options.tier;
    const delay = hedge.delay_ms > 0 ? hedge.delay_ms : this.ttft.p95;
    return delay > 0 ? Math.max(hedge.min_delay_ms, delay) : undefined;
  }

  /** Deployments whose provider can continue an assistant prefix. */
  private readonly capable = (s: DeploymentState): boolean => this.options.providers.get(s.deployment.provider)?.continuesPrefix ?? false;

  /** A request continuing an answer needs continuation on here, and a deployment that can continue. */
  private checkContinuable(): void {
    const { tierName, tier } = this.options;
    if (!tier.continuation.enabled) throw this.failure("continuation is off for this tier", Code.FailedPrecondition, 0);
    if (!this.states.some(this.capable)) {
      throw this.failure(`no deployment of tier ${tierName} can continue an answer (no provider with continuation)`, Code.FailedPrecondition, 0);
    }
  }

}

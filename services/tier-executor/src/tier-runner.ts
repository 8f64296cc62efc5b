import { Code, ConnectError } from "@connectrpc/connect";
import type { TierConfig } from "@tiermesh/config";
import { ATTEMPTS_HEADER, OutcomeStatus, RETRY_AFTER_HEADER, type CompletionInput } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { Bulkhead, BulkheadFullError, BulkheadTimeoutError } from "./bulkhead.js";
import { costUsd, estimatePromptTokens, estimateTokens } from "./cost.js";
import { selectDeployment } from "./deployment-selector.js";
import { DeploymentState, type Deployment } from "./deployment-state.js";
import { raceFirstToken, RaceFailure, type RacedAttempt } from "./first-token-race.js";
import type { ProviderAdapter, ProviderMessage, ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";
import { cacheKey, isDeterministic, ResponseCache } from "./response-cache.js";
import { HedgeBudget, RetryBudget } from "./retry-budget.js";
import { TtftTracker } from "./ttft-tracker.js";

export interface RunRequest {
  input: CompletionInput;
  probe: boolean;
  tenant: string;
  /** Attempts this request may still make across layers; 0 = the tier's own limit. */
  maxAttempts: number;
  /** Probes only: call this deployment once, whatever its breaker or cool-down says. */
  deployment?: string | undefined;
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
}

type AttemptResult = Pick<RunResult, "deployment" | "finishReason" | "promptTokens" | "completionTokens" | "usageEstimated" | "costUsd">;

interface CachedAnswer {
  content: string;
  result: AttemptResult;
}

export interface TierRunnerOptions {
  tierName: string;
  tier: TierConfig;
  providers: ReadonlyMap<string, ProviderAdapter>;
  report: (outcome: OutcomeInit) => void;
  random?: () => number;
  now?: () => number;
}

const outcomeOfFailure: Record<ProviderFailure, OutcomeStatus> = {
  timeout: OutcomeStatus.TIMEOUT,
  rate_limited: OutcomeStatus.RATE_LIMITED,
  server: OutcomeStatus.ERROR,
  network: OutcomeStatus.ERROR,
  client: OutcomeStatus.CLIENT_ERROR,
  cancelled: OutcomeStatus.CANCELLED,
};

const codeOfFailure: Record<ProviderFailure, Code> = {
  timeout: Code.DeadlineExceeded,
  rate_limited: Code.ResourceExhausted,
  server: Code.Unavailable,
  network: Code.Unavailable,
  client: Code.InvalidArgument,
  cancelled: Code.Canceled,
};

/** Failures that say the deployment is unwell (client errors and cancellations say nothing about it). */
const BREAKER_FAILURES = new Set<ProviderFailure>(["server", "network", "timeout"]);

/**
 * Serves one request from a tier's pool, keeping the tier's promises: its prompt settings,
 * a bulkhead (bounded concurrency and queue), deployment selection that skips open circuit
 * breakers and 429 cool-downs, retries within the retry budget and the request's attempt
 * limit, hedging after the tier's recent p95 time to first token, a response cache for
 * deterministic requests, and the caller's deadline on every attempt. Yields answer text as
 * it arrives; fails over only before the first piece of text was yielded.
 */
export class TierRunner {
  private readonly states: DeploymentState[];
  private readonly random: () => number;
  private readonly now: () => number;
  private readonly bulkhead: Bulkhead;
  private readonly retryBudget: RetryBudget;
  private readonly hedgeBudget: HedgeBudget;
  private readonly ttft = new TtftTracker();
  private readonly cache: ResponseCache<CachedAnswer> | undefined;

  constructor(private readonly options: TierRunnerOptions) {
    const { tier } = options;
    this.random = options.random ?? Math.random;
    this.now = options.now ?? Date.now;
    this.states = DeploymentState.fromConfig(tier.models, tier.breaker, this.now);
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

  /** Deployments with their breaker state, load and speed (for metrics and tests). */
  get deployments(): readonly DeploymentState[] {
    return this.states;
  }

  async *run(request: RunRequest, ctx: RunContext): AsyncGenerator<string, RunResult> {
    const started = performance.now();
    const providerRequest = this.providerRequest(request);
    const key = this.cache && !request.probe && isDeterministic(request.input.temperature) ? this.cacheKeyOf(providerRequest) : undefined;
    const hit = key === undefined ? undefined : this.cache!.get(key);
    if (hit) {
      if (hit.content) yield hit.content;
      const totalMs = performance.now() - started;
      return { ...hit.result, costUsd: 0, attempts: 0, ttftMs: totalMs, totalMs, providerMs: 0, cached: true, hedged: false };
    }
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
        if (key !== undefined) content += step.value;
        yield step.value;
      }
    } finally {
      // A caller that stops reading must not leave the provider request open.
      await run.return(undefined as never).catch(() => undefined);
      release();
    }
  }

  private async *serve(request: RunRequest, providerRequest: ProviderRequest, ctx: RunContext, started: number): AsyncGenerator<string, RunResult> {
    const { tier } = this.options;
    const limit = request.deployment ? 1 : Math.min(tier.retries.max_attempts, request.maxAttempts > 0 ? request.maxAttempts : Infinity);
    const tried = new Set<string>();
    let attempts = 0;
    let hedged = false;
    let lastError: ProviderError | undefined;
    let providerMs = 0;
    if (!request.probe) {
      this.retryBudget.deposit();
      this.hedgeBudget.deposit();
    }
    while (attempts < limit) {
      if (attempts > 0) {
        if (!this.retryBudget.tryRetry()) {
          lastError = new ProviderError(lastError?.failure ?? "server", `${lastError?.message ?? "failed"} (retry budget exhausted)`);
          break;
        }
        await this.backoff(attempts, ctx);
      }
      const remaining = ctx.deadline - Date.now();
      if (remaining <= 0 || ctx.signal.aborted) break;
      const primary = this.startAttempt(providerRequest, tried, request.probe, remaining, ctx.signal, request.deployment);
      if (!primary) {
        const cooling = this.coolingForMs();
        if (cooling !== undefined) {
          // Every usable deployment asked us to wait (429): say so, with when to retry.
          lastError = new ProviderError("rate_limited", `every deployment of tier ${this.options.tierName} is rate limited`, {
            retryAfterMs: cooling,
          });
        } else if (lastError?.failure !== "rate_limited") {
          lastError = new ProviderError("server", `every deployment of tier ${this.options.tierName} has an open circuit breaker`);
        }
        break;
      }
      attempts++;
      const attemptStart = performance.now();
      const hedgeAfter = attempts < limit && tier.hedge.enabled && !request.probe ? this.hedgeDelay() : undefined;
      let emitted = false;
      try {
        const winner = await raceFirstToken(primary, hedgeAfter, () => {
          const left = ctx.deadline - Date.now();
          if (attempts >= limit || left <= 0 || !this.hedgeBudget.tryHedge()) return undefined;
          const hedge = this.startAttempt(providerRequest, tried, request.probe, left, ctx.signal);
          if (hedge) {
            attempts++;
            hedged = true;
          }
          return hedge;
        });
        let step = winner.first;
        try {
          while (!step.done) {
            emitted = true;
            yield step.value;
            step = await winner.attempt.run.next();
          }
        } finally {
          if (!step.done) await winner.attempt.run.return(undefined as never).catch(() => undefined);
        }
        providerMs += performance.now() - attemptStart;
        const totalMs = performance.now() - started;
        // The winner's own time to first token, plus when it started (a hedge starts late).
        const ttftMs = step.value.ttftMs + (winner.attempt.startedAt - started);
        return { ...step.value, attempts, totalMs, providerMs, ttftMs, cached: false, hedged };
      } catch (cause) {
        providerMs += performance.now() - attemptStart;
        const last = cause instanceof RaceFailure ? cause.last : cause;
        const err = last instanceof ProviderError ? last : new ProviderError("server", String(last), { cause: last });
        if (emitted) {
          throw this.failure(`stream interrupted after the first token: ${err.message}`, Code.Unavailable, attempts, err);
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

  private failure(message: string, code: Code, attempts: number, cause?: unknown, retryAfterMs?: number): ConnectError {
    const metadata: Record<string, string> = { [ATTEMPTS_HEADER]: String(attempts) };
    if (retryAfterMs !== undefined) metadata[RETRY_AFTER_HEADER] = String(Math.max(1, Math.ceil(retryAfterMs / 1_000)));
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

  /** When every deployment whose breaker allows calls is cooling down after a 429: the time until the first is usable. */
  private coolingForMs(): number | undefined {
    const now = this.now();
    const closed = this.states.filter((s) => s.breaker.state !== "open");
    if (closed.length === 0 || closed.some((s) => s.coolingUntil <= now)) return undefined;
    return Math.min(...closed.map((s) => s.coolingUntil)) - now;
  }

  /** Hedge after the configured delay, or the tier's recent p95 TTFT; undefined when unknown. */
  private hedgeDelay(): number | undefined {
    const { hedge } = this.options.tier;
    const delay = hedge.delay_ms > 0 ? hedge.delay_ms : this.ttft.p95;
    return delay > 0 ? Math.max(hedge.min_delay_ms, delay) : undefined;
  }

  private cacheKeyOf(r: ProviderRequest): string {
    return cacheKey({ tier: this.options.tierName, messages: r.messages, maxTokens: r.maxTokens, jsonMode: r.jsonMode ?? false });
  }

  private providerRequest({ input, tenant }: RunRequest): ProviderRequest {
    const { prompt } = this.options.tier;
    const messages: ProviderMessage[] = input.messages.map((m) => ({ role: m.role, content: m.content }));
    if (prompt.system !== undefined) {
      const system = prompt.system.replaceAll("{{tier}}", this.options.tierName).replaceAll("{{tenant}}", tenant);
      messages.unshift({ role: "system", content: system });
    }
    const asked = input.maxTokens > 0 ? input.maxTokens : prompt.default_max_tokens;
    return { model: "", messages, maxTokens: Math.min(asked, prompt.max_tokens_cap), temperature: input.temperature, jsonMode: input.jsonMode };
  }

  /** Picks a deployment: untried first, skipping open breakers and 429 cool-downs. */
  private pick(tried: ReadonlySet<string>): DeploymentState | undefined {
    const now = this.now();
    const usable = this.states.filter((s) => s.breaker.state !== "open" && s.coolingUntil <= now);
    let pool = usable.filter((s) => !tried.has(s.deployment.id));
    if (pool.length === 0) pool = usable;
    while (pool.length > 0) {
      const chosen = selectDeployment(
        this.options.tier.pool.strategy,
        pool.map((s) => ({ id: s.deployment.id, weight: s.deployment.weight, outstanding: s.outstanding, latencyMs: s.ttft.value })),
        this.random,
      );
      const state = pool.find((s) => s.deployment.id === chosen?.id);
      if (!state) return undefined;
      if (state.breaker.allow()) return state;
      pool = pool.filter((s) => s !== state);
    }
    return undefined;
  }

  private startAttempt(
    base: ProviderRequest,
    tried: Set<string>,
    probe: boolean,
    remainingMs: number,
    callerSignal: AbortSignal,
    only?: string,
  ): RacedAttempt<string, AttemptResult & { ttftMs: number }> | undefined {
    const state = only ? this.states.find((s) => s.deployment.id === only) : this.pick(tried);
    if (!state) return undefined;
    tried.add(state.deployment.id);
    const controller = new AbortController();
    const attemptMs = Math.min(this.options.tier.timeouts.attempt_ms, remainingMs);
    return {
      run: this.attempt(state, base, probe, attemptMs, callerSignal, controller),
      cancel: (why) => controller.abort(new ProviderError("cancelled", `${state.deployment.id}: ${why}`)),
      startedAt: performance.now(),
    };
  }

  private async *attempt(
    state: DeploymentState,
    base: ProviderRequest,
    probe: boolean,
    attemptMs: number,
    callerSignal: AbortSignal,
    controller: AbortController,
  ): AsyncGenerator<string, AttemptResult & { ttftMs: number }> {
    const { deployment } = state;
    const adapter = this.options.providers.get(deployment.provider)!;
    const abort = (failure: ProviderFailure, message: string) => () =>
      controller.abort(new ProviderError(failure, `${deployment.id}: ${message}`));
    const onCallerAbort = abort("cancelled", "caller cancelled");
    if (callerSignal.aborted) onCallerAbort();
    callerSignal.addEventListener("abort", onCallerAbort, { once: true });
    const attemptTimer = setTimeout(abort("timeout", `no answer within ${attemptMs} ms`), attemptMs);
    const ttftLimit = Math.min(this.options.tier.timeouts.ttft_ms, attemptMs);
    let ttftTimer: NodeJS.Timeout | undefined = setTimeout(abort("timeout", `no first token within ${ttftLimit} ms`), ttftLimit);
    const start = performance.now();
    let ttftMs = 0;
    let completion = "";
    let settled = false;
    state.outstanding++;
    // Probes are measured by the monitor that sent them; reporting them here too would count them twice.
    const report = (status: OutcomeStatus, promptTokens: number, completionTokens: number, cost: number) =>
      !probe &&
      this.options.report({
        tier: this.options.tierName,
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
      });
    const firstToken = () => {
      if (!ttftTimer) return;
      clearTimeout(ttftTimer);
      ttftTimer = undefined;
      ttftMs = performance.now() - start;
      state.ttft.update(ttftMs);
      this.ttft.record(ttftMs);
    };
    try {
      for await (const event of adapter.stream({ ...base, model: deployment.model }, controller.signal)) {
        if (event.type === "delta") {
          firstToken();
          completion += event.text;
          yield event.text;
          continue;
        }
        firstToken();
        const promptTokens = event.usage?.promptTokens ?? estimatePromptTokens(base.messages);
        const completionTokens = event.usage?.completionTokens ?? estimateTokens(completion);
        const cost = costUsd(deployment.price, promptTokens, completionTokens);
        state.breaker.record(true);
        settled = true;
        report(OutcomeStatus.OK, promptTokens, completionTokens, cost);
        return { deployment, finishReason: event.finishReason, promptTokens, completionTokens, usageEstimated: event.usage === undefined, costUsd: cost, ttftMs };
      }
      throw new ProviderError("server", `${deployment.id}: stream ended without a result`);
    } catch (cause) {
      const reason: unknown = controller.signal.reason;
      const err = reason instanceof ProviderError ? reason : cause instanceof ProviderError ? cause : new ProviderError("server", String(cause), { cause });
      if (BREAKER_FAILURES.has(err.failure)) state.breaker.record(false);
      else state.breaker.abandon();
      if (err.failure === "rate_limited") state.coolingUntil = this.now() + (err.options.retryAfterMs ?? 1_000);
      settled = true;
      report(outcomeOfFailure[err.failure], 0, 0, 0);
      throw err;
    } finally {
      if (!settled) {
        // The caller stopped reading: the loop above closed the provider stream on its way out.
        state.breaker.abandon();
        report(OutcomeStatus.CANCELLED, 0, 0, 0);
      }
      state.outstanding--;
      clearTimeout(attemptTimer);
      if (ttftTimer) clearTimeout(ttftTimer);
      callerSignal.removeEventListener("abort", onCallerAbort);
    }
  }

  private async backoff(attempt: number, ctx: RunContext): Promise<void> {
    const base = this.options.tier.retries.backoff_ms * 2 ** (attempt - 1);
    const delay = Math.min(base * (0.5 + this.random()), Math.max(0, ctx.deadline - Date.now()));
    if (delay <= 0) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, delay);
      function done() {
        clearTimeout(timer);
        ctx.signal.removeEventListener("abort", done);
        resolve();
      }
      ctx.signal.addEventListener("abort", done, { once: true });
    });
  }
}

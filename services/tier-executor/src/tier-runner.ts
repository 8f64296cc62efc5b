import { Code, ConnectError } from "@connectrpc/connect";
import type { TierConfig } from "@tiermesh/config";
import { OutcomeStatus, type CompletionInput } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { costUsd, estimatePromptTokens } from "./cost.js";
import { DeploymentPool, type Deployment } from "./deployment-pool.js";
import type { ProviderAdapter, ProviderMessage, ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";

export interface RunRequest {
  input: CompletionInput;
  probe: boolean;
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
}

export interface TierRunnerOptions {
  tierName: string;
  tier: TierConfig;
  providers: ReadonlyMap<string, ProviderAdapter>;
  report: (outcome: OutcomeInit) => void;
  random?: () => number;
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

/**
 * Serves one request from a tier's pool: applies the tier's prompt settings, tries
 * deployments within the retry limit and the caller's deadline, and reports every
 * attempt's outcome. Yields answer text as it arrives; fails over to another attempt
 * only before the first piece of text was yielded.
 */
export class TierRunner {
  private readonly pool: DeploymentPool;
  private readonly random: () => number;

  constructor(private readonly options: TierRunnerOptions) {
    this.random = options.random ?? Math.random;
    this.pool = new DeploymentPool(options.tier.models, this.random);
  }

  async *run(request: RunRequest, ctx: RunContext): AsyncGenerator<string, RunResult> {
    const { tier } = this.options;
    const started = performance.now();
    const providerRequest = this.providerRequest(request.input);
    const tried = new Set<string>();
    let lastError: ProviderError | undefined;
    let providerMs = 0;
    for (let attempt = 1; attempt <= tier.retries.max_attempts; attempt++) {
      const remaining = ctx.deadline - Date.now();
      if (remaining <= 0 || ctx.signal.aborted) break;
      const deployment = this.pool.pick(tried);
      tried.add(deployment.id);
      const attemptStart = performance.now();
      let emitted = false;
      try {
        const attemptRun = this.attempt(deployment, providerRequest, request.probe, Math.min(tier.timeouts.attempt_ms, remaining), ctx.signal);
        for (;;) {
          const step = await attemptRun.next();
          if (step.done) {
            providerMs += performance.now() - attemptStart;
            const totalMs = performance.now() - started;
            return { ...step.value, attempts: attempt, totalMs, providerMs, ttftMs: step.value.ttftMs + (attemptStart - started) };
          }
          emitted = true;
          yield step.value;
        }
      } catch (cause) {
        providerMs += performance.now() - attemptStart;
        const err = cause instanceof ProviderError ? cause : new ProviderError("server", String(cause), { cause });
        if (emitted) {
          throw new ConnectError(`tier ${this.options.tierName}: stream interrupted after the first token: ${err.message}`, Code.Unavailable, undefined, undefined, err);
        }
        lastError = err;
        if (!err.retryable) break;
      }
      if (attempt < tier.retries.max_attempts) await this.backoff(attempt, ctx);
    }
    if (ctx.signal.aborted) throw new ConnectError("request cancelled", Code.Canceled);
    if (!lastError || Date.now() >= ctx.deadline) {
      throw new ConnectError(`tier ${this.options.tierName}: deadline exceeded${lastError ? ` (last error: ${lastError.message})` : ""}`, Code.DeadlineExceeded);
    }
    throw new ConnectError(`tier ${this.options.tierName}: ${lastError.message}`, codeOfFailure[lastError.failure], undefined, undefined, lastError);
  }

  private providerRequest(input: CompletionInput): ProviderRequest {
    const { prompt } = this.options.tier;
    const messages: ProviderMessage[] = input.messages.map((m) => ({ role: m.role, content: m.content }));
    if (prompt.system !== undefined) messages.unshift({ role: "system", content: prompt.system });
    const asked = input.maxTokens > 0 ? input.maxTokens : prompt.default_max_tokens;
    return { model: "", messages, maxTokens: Math.min(asked, prompt.max_tokens_cap), temperature: input.temperature, jsonMode: input.jsonMode };
  }

  private async *attempt(
    deployment: Deployment,
    base: ProviderRequest,
    probe: boolean,
    attemptMs: number,
    callerSignal: AbortSignal,
  ): AsyncGenerator<string, Omit<RunResult, "attempts" | "totalMs" | "providerMs">> {
    const adapter = this.options.providers.get(deployment.provider)!;
    const controller = new AbortController();
    const abort = (failure: ProviderFailure, message: string) => () =>
      controller.abort(new ProviderError(failure, `${deployment.id}: ${message}`));
    const onCallerAbort = abort("cancelled", "caller cancelled");
    callerSignal.addEventListener("abort", onCallerAbort, { once: true });
    const attemptTimer = setTimeout(abort("timeout", `no answer within ${attemptMs} ms`), attemptMs);
    const ttftLimit = Math.min(this.options.tier.timeouts.ttft_ms, attemptMs);
    let ttftTimer: NodeJS.Timeout | undefined = setTimeout(abort("timeout", `no first token within ${ttftLimit} ms`), ttftLimit);
    const start = performance.now();
    let ttftMs = 0;
    let completionChars = 0;
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
    try {
      for await (const event of adapter.stream({ ...base, model: deployment.model }, controller.signal)) {
        if (event.type === "delta") {
          if (ttftTimer) {
            clearTimeout(ttftTimer);
            ttftTimer = undefined;
            ttftMs = performance.now() - start;
          }
          completionChars += event.text.length;
          yield event.text;
          continue;
        }
        if (ttftTimer) ttftMs = performance.now() - start;
        const promptTokens = event.usage?.promptTokens ?? estimatePromptTokens(base.messages);
        const completionTokens = event.usage?.completionTokens ?? Math.ceil(completionChars / 4);
        const cost = costUsd(deployment.price, promptTokens, completionTokens);
        report(OutcomeStatus.OK, promptTokens, completionTokens, cost);
        return { deployment, finishReason: event.finishReason, promptTokens, completionTokens, usageEstimated: event.usage === undefined, costUsd: cost, ttftMs };
      }
      throw new ProviderError("server", `${deployment.id}: stream ended without a result`);
    } catch (cause) {
      const reason: unknown = controller.signal.reason;
      const err = cause instanceof ProviderError ? cause : reason instanceof ProviderError ? reason : new ProviderError("server", String(cause), { cause });
      report(outcomeOfFailure[err.failure], 0, 0, 0);
      throw err;
    } finally {
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

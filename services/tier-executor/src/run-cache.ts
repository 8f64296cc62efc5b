import type { TierConfig } from "@tiermesh/config";
import type { AttemptResult } from "./deployment-attempt.js";
import { cacheKeyOf } from "./provider-request.js";
import type { ProviderRequest, ToolCall } from "./providers/provider-adapter.js";
import { isDeterministic, ResponseCache } from "./response-cache.js";
import type { RunEvent, RunRequest, RunResult } from "./run-contract.js";
import { piecesOf, ToolCallAssembly } from "./tool-call-assembly.js";

interface CachedAnswer {
  content: string;
  toolCalls: ToolCall[];
  result: Omit<AttemptResult, "ttftMs">;
}

/**
 * A tier's response cache around its runs (when the tier enables it): a deterministic
 * request (temperature 0) that is neither a probe nor a continuation is answered from an
 * earlier identical one of this tier, at no cost and with no attempt; a served answer is
 * stored whole, only once its run completed.
 */
export class RunCache {
  private readonly cache: ResponseCache<CachedAnswer> | undefined;

  constructor(
    private readonly tierName: string,
    tier: TierConfig,
    now: () => number,
  ) {
    this.cache = tier.cache.enabled
      ? new ResponseCache<CachedAnswer>(tier.cache, (a) => (a.content.length + JSON.stringify(a.toolCalls).length) * 2 + 256, now)
      : undefined;
  }

  /** The key the request's answer is cached under; undefined when it is not to be cached. */
  keyOf(request: RunRequest, providerRequest: ProviderRequest): string | undefined {
    const cacheable = this.cache && !request.probe && !request.assistantPrefix && isDeterministic(request.input.temperature);
    return cacheable ? cacheKeyOf(this.tierName, providerRequest) : undefined;
  }

  /** The cached answer under `key`, if any. */
  get(key: string | undefined): CachedAnswer | undefined {
    return key === undefined ? undefined : this.cache!.get(key);
  }

  /** Replays a cached answer: its text at once, then each tool call whole, then its result (timed from the run's start). */
  async *replay(hit: CachedAnswer, started: number): AsyncGenerator<RunEvent, RunResult> {
    if (hit.content) yield { type: "text", text: hit.content };
    for (const call of piecesOf(hit.toolCalls)) yield { type: "tool_call", call };
    const totalMs = performance.now() - started;
    return {
      ...hit.result,
      costUsd: 0,
      attempts: 0,
      ttftMs: totalMs,
      totalMs,
      providerMs: 0,
      cached: true,
      hedged: false,
      continuations: 0,
    };
  }

  /**
   * Passes `run` on, keeping its text, and stores the answer under `key` when it completes
   * (`run` itself when there is no key). A consumer that stops early closes `run`.
   */
  recording(key: string | undefined, run: AsyncGenerator<RunEvent, RunResult>): AsyncGenerator<RunEvent, RunResult> {
    return key === undefined ? run : this.record(key, run);
  }

  private async *record(key: string, run: AsyncGenerator<RunEvent, RunResult>): AsyncGenerator<RunEvent, RunResult> {
    let content = "";
    const calls = new ToolCallAssembly();
    try {
      for (;;) {
        const step = await run.next();
        if (step.done) {
          this.cache!.set(key, { content, toolCalls: calls.calls, result: step.value });
          return step.value;
        }
        if (step.value.type === "text") content += step.value.text;
        else if (step.value.type === "tool_call") calls.add(step.value.call);
        yield step.value;
      }
    } finally {
      await run.return(undefined as never).catch(() => undefined);
    }
  }
}

// In-memory provider adapters and tier configs for runner and service tests (test support, not built).
import { create } from "@bufbuild/protobuf";
import { parseConfig, type TierConfig } from "@tiermesh/config";
import { CompletionInputSchema, OutcomeStatus } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { stringify } from "yaml";
import type { ProviderAdapter, ProviderEvent, ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError } from "./providers/provider-error.js";
import type { RunContext, RunRequest } from "./tier-runner.js";

/** How a fake model answers one call. */
export type Behaviour = (request: ProviderRequest, signal: AbortSignal) => AsyncIterable<ProviderEvent>;

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** First token after `ttftMs`, then the pieces and a `stop`. */
export const answering = (ttftMs: number, pieces: readonly string[] = ["Hello", " there"]): Behaviour =>
  async function* (_request, signal) {
    await sleep(ttftMs, signal);
    for (const text of pieces) yield { type: "delta", text };
    yield { type: "done", finishReason: "stop", usage: { promptTokens: 11, completionTokens: pieces.length } };
  };

/** Accepts the call and never sends anything, until aborted. */
export const hung: Behaviour = async function* (_request, signal) {
  await sleep(3_600_000, signal);
};

/** Fails with a 5xx after `afterMs`. */
export const failing = (afterMs = 0): Behaviour =>
  async function* (_request, signal) {
    await sleep(afterMs, signal);
    throw new ProviderError("server", "HTTP 500: boom", { status: 500 });
  };

/** A provider named `fake` whose models behave as told; behaviours can be swapped at run time. */
export class FakeProvider implements ProviderAdapter {
  readonly name = "fake";
  readonly baseUrl = new URL("http://fake.invalid:8080");
  /** Calls per model. */
  readonly calls = new Map<string, number>();

  constructor(
    readonly models: Record<string, Behaviour>,
    readonly continuesPrefix = true,
  ) {}

  stream(request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
    this.calls.set(request.model, (this.calls.get(request.model) ?? 0) + 1);
    const behaviour = this.models[request.model];
    if (!behaviour) throw new Error(`fake provider: no model ${request.model}`);
    return behaviour(request, signal);
  }

  callsTo(model: string): number {
    return this.calls.get(model) ?? 0;
  }

  async close(): Promise<void> {}
}

/** The `gold` tier of a whole parsed config, with deployments `<id>` on provider `fake`, model `<id>`. */
export function tierOf(deployments: readonly string[], tier: Record<string, unknown> = {}): TierConfig {
  const text = stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: { fake: { kind: "openai", base_url: "http://127.0.0.1:9/v1" } },
    tiers: {
      gold: {
        rank: 1,
        executor: { listen: "127.0.0.1:7410" },
        models: deployments.map((id) => ({ id, provider: "fake", model: id, price: { input_per_mtok: 1, output_per_mtok: 2 } })),
        ...tier,
      },
    },
    plans: {},
  });
  return parseConfig(text, "test.yaml", {}).tiers["gold"]!;
}

export function request(o: { probe?: boolean; deployment?: string; maxAttempts?: number } = {}): RunRequest {
  return {
    input: create(CompletionInputSchema, { messages: [{ role: "user", content: "Say hello." }], maxTokens: 8 }),
    probe: o.probe ?? false,
    tenant: "acme",
    maxAttempts: o.maxAttempts ?? 0,
    deployment: o.deployment,
  };
}

export function context(timeoutMs = 5_000, signal = new AbortController().signal): RunContext {
  return { deadline: Date.now() + timeoutMs, signal };
}

/** `deployment:STATUS` per reported outcome, in report order. */
export function seen(outcomes: readonly OutcomeInit[]): string[] {
  return outcomes.map((o) => `${o.deployment}:${OutcomeStatus[o.status ?? OutcomeStatus.UNSPECIFIED]}`);
}

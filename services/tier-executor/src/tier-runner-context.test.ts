import { Code, ConnectError } from "@connectrpc/connect";
import { ATTEMPTS_HEADER, CONTEXT_LENGTH_EXCEEDED, ERROR_REASON_HEADER } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { describe, expect, it } from "vitest";
import { answering, context, FakeProvider, request, seen, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import { requestContextTokens } from "./context-tokens.js";
import { ProviderError } from "./providers/provider-error.js";
import { TierRunner, type RunRequest, type RunResult } from "./tier-runner.js";

// TierRunner and context windows: deployments whose window cannot hold the request are never
// called, and a provider's refusal for length moves the request to a larger deployment without
// touching the refusing deployment's breaker. random = () => 0: the first listed deployment
// is picked first when it may be.

/** Refuses as OpenAI does when the prompt plus max_tokens is over the model's window. */
const tooLong: Behaviour = async function* () {
  throw new ProviderError("context_length", "fake: HTTP 400: This model's maximum context length is 4096 tokens", { status: 400 });
};

function harness(models: Record<string, { behaviour: Behaviour; window?: number }>, tier: Record<string, unknown> = {}) {
  const provider = new FakeProvider(Object.fromEntries(Object.entries(models).map(([id, m]) => [id, m.behaviour])));
  const outcomes: OutcomeInit[] = [];
  const deployments = Object.entries(models).map(([id, m]) => ({
    id,
    provider: "fake",
    model: id,
    price: { input_per_mtok: 1, output_per_mtok: 2 },
    ...(m.window ? { context_window: m.window } : {}),
  }));
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), { models: deployments, ...tier }),
    providers: new Map([["fake", provider]]),
    report: (o) => outcomes.push(o),
    random: () => 0,
  });
  return { runner, provider, outcomes, breaker: (id: string) => runner.deployments.find((d) => d.deployment.id === id)!.breaker };
}

/** A request whose messages the classifier counted at `promptTokens`, asking `maxTokens`. */
function sized(promptTokens: number, maxTokens: number): RunRequest {
  const r = request();
  return { ...r, promptTokens, input: { ...r.input, maxTokens } };
}

async function settle(runner: TierRunner, req: RunRequest): Promise<{ result?: RunResult; error?: ConnectError }> {
  const run = runner.run(req, context());
  try {
    for (;;) {
      const step = await run.next();
      if (step.done) return { result: step.value };
    }
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return { error: error as ConnectError };
  }
}

describe("TierRunner and context windows", () => {
  it("never calls a deployment whose window cannot hold the prompt plus max_tokens", async () => {
    const h = harness({ small: { behaviour: answering(0), window: 4_096 }, large: { behaviour: answering(0), window: 32_000 } });
    const { result } = await settle(h.runner, sized(4_000, 200));
    expect(result?.deployment.id).toBe("large");
    expect(h.provider.callsTo("small")).toBe(0);
    // One that fits still goes to the first listed deployment.
    expect((await settle(h.runner, sized(3_000, 200))).result?.deployment.id).toBe("small");
  });

  it("counts the tier's default max tokens when the caller asks none", async () => {
    const h = harness(
      { small: { behaviour: answering(0), window: 4_096 }, large: { behaviour: answering(0), window: 32_000 } },
      { prompt: { default_max_tokens: 1_000 } },
    );
    expect((await settle(h.runner, sized(3_500, 0))).result?.deployment.id).toBe("large");
    expect(h.provider.callsTo("small")).toBe(0);
  });

  it("fails at once, without a provider call, when no deployment fits: INVALID_ARGUMENT with the context-length reason", async () => {
    const h = harness({ small: { behaviour: answering(0), window: 4_096 }, medium: { behaviour: answering(0), window: 8_192 } });
    const { error } = await settle(h.runner, sized(9_120, 1_024));
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.metadata.get(ERROR_REASON_HEADER)).toBe(CONTEXT_LENGTH_EXCEEDED);
    expect(error?.metadata.get(ATTEMPTS_HEADER)).toBe("0");
    expect(error?.rawMessage).toContain("no deployment's context window fits 10,144 tokens");
    expect(error?.rawMessage).toContain("small: context window 4,096 tokens too small");
    expect(h.provider.callsTo("small") + h.provider.callsTo("medium")).toBe(0);
    expect(h.outcomes).toEqual([]);
  });

  it("moves a request refused for its length to a larger deployment, without a failure on the refusing one's breaker", async () => {
    const h = harness({
      wrong: { behaviour: tooLong, window: 8_192 },
      same: { behaviour: answering(0), window: 8_192 },
      larger: { behaviour: answering(0), window: 16_000 },
    });
    const { result } = await settle(h.runner, sized(5_000, 100));
    expect(result?.deployment.id).toBe("larger");
    // A deployment no larger than the one that refused is not tried.
    expect(h.provider.callsTo("same")).toBe(0);
    expect(seen(h.outcomes)).toEqual(["wrong:CLIENT_ERROR", "larger:OK"]);
    // However many refusals: the breaker hears of none of them.
    for (let i = 0; i < 30; i++) await settle(h.runner, sized(5_000, 100));
    expect(h.breaker("wrong").state).toBe("closed");
  });

  it("reports a refusal for length with nowhere larger to go as a context-length miss, so the router may try a larger tier", async () => {
    const h = harness({ only: { behaviour: tooLong, window: 8_192 } }, { retries: { max_attempts: 3 } });
    for (let i = 0; i < 20; i++) {
      const { error } = await settle(h.runner, sized(5_000, 100));
      expect(error?.code).toBe(Code.InvalidArgument);
      expect(error?.metadata.get(ERROR_REASON_HEADER)).toBe(CONTEXT_LENGTH_EXCEEDED);
      expect(error?.metadata.get(ATTEMPTS_HEADER)).toBe("1");
      expect(error?.rawMessage).toContain("maximum context length is 4096 tokens");
    }
    expect(h.provider.callsTo("only")).toBe(20);
    expect(h.breaker("only").state).toBe("closed");
  });

  it("skips nothing on size when no deployment declares a window", async () => {
    const h = harness({ a: { behaviour: answering(0) } });
    expect((await settle(h.runner, sized(1_000_000, 100_000))).result?.deployment.id).toBe("a");
  });
});

describe("requestContextTokens", () => {
  const tier = (windows: (number | undefined)[]) =>
    tierOf(
      windows.map((_, i) => `d${i}`),
      {
        models: windows.map((w, i) => ({
          id: `d${i}`,
          provider: "fake",
          model: `d${i}`,
          price: { input_per_mtok: 1, output_per_mtok: 1 },
          ...(w ? { context_window: w } : {}),
        })),
        prompt: { default_max_tokens: 100 },
      },
    );
  const req = (content: string, promptTokens?: number) => ({
    ...request(),
    input: { ...request().input, messages: [{ role: "user", content }], maxTokens: 0 } as never,
    promptTokens,
  });

  it("uses the router's count when given; else the byte bound when it fits every window; else counts", () => {
    expect(requestContextTokens(tier([undefined]), "gold", req("x".repeat(10_000)))).toBe(0);
    expect(requestContextTokens(tier([4_096, 8_192]), "gold", req("hello", 3_000))).toBe(3_100);
    // 5 bytes + 4 for the message: an upper bound that fits, no tokenizer needed.
    expect(requestContextTokens(tier([4_096]), "gold", req("hello"))).toBe(109);
    // 6,000 bytes of " hello" do not fit 4,096 by their bound: counted, 1,000 tokens.
    expect(requestContextTokens(tier([4_096]), "gold", req(" hello".repeat(1_000)))).toBe(1_104);
  });
});

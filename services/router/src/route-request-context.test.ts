import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig, TierLadder } from "@tiermesh/config";
import {
  ATTEMPTS_HEADER,
  ClassifyResponseSchema,
  CompletionInputSchema,
  CONTEXT_LENGTH_EXCEEDED,
  ERROR_REASON_HEADER,
  ExecuteResponseSchema,
  ExecuteStreamResponseSchema,
  TierState,
  type ExecuteStreamResponse,
} from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { ContextFit } from "./context-fit.js";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { RouteRequest } from "./route-request.js";
import { raceTiers, type TierCalls } from "./tier-race.js";

// A tier that refuses a request for its length (the provider's context window is smaller than
// config says) is a routing miss: the request moves on to a tier with a larger window, the
// refusing tier's passive breaker hears nothing, and with nothing larger the caller gets
// INVALID_ARGUMENT naming the miss.

const config = parseConfig(
  JSON.stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: { sim: { kind: "openai", base_url: "http://127.0.0.1:7490/v1" } },
    tiers: Object.fromEntries(
      [
        ["gold", 3, 32_000, "silver"],
        ["silver", 2, 8_192, "bronze"],
        ["bronze", 1, 8_192, undefined],
      ].map(([name, rank, window, fallback], i) => [
        name,
        {
          rank,
          ...(fallback ? { fallback } : {}),
          executor: { listen: `127.0.0.1:${7410 + i}` },
          models: [{ provider: "sim", model: `sim-${name}`, price: { input_per_mtok: 1, output_per_mtok: 1 }, context_window: window }],
        },
      ]),
    ),
    plans: {},
  }),
  "t.yaml",
  {},
);

const refused = (tier: string) =>
  new ConnectError(`tier ${tier}: no deployment's context window fits (sim-${tier}: refused the prompt's length)`, Code.InvalidArgument, {
    [ERROR_REASON_HEADER]: CONTEXT_LENGTH_EXCEEDED,
    [ATTEMPTS_HEADER]: "1",
  });

function setup(planned: string[], maxTier: string, answers: Record<string, "refuse" | "answer">) {
  const fit = new ContextFit(config.tiers, new TierLadder(config.tiers), () => TierState.HEALTHY);
  const opened: { tier: string; promptTokens: number | undefined }[] = [];
  const calls: TierCalls = {
    open(tier, request) {
      opened.push({ tier, promptTokens: request.promptTokens });
      return (async function* (): AsyncGenerator<ExecuteStreamResponse> {
        if (answers[tier] !== "answer") throw refused(tier);
        yield create(ExecuteStreamResponseSchema, {
          event: { case: "done", value: create(ExecuteResponseSchema, { tier, content: "ok", finishReason: "stop", attempts: 1 }) },
        });
      })();
    },
    continues: () => false,
    hedges: () => false,
    deposit: () => {},
    tryHedge: () => false,
  };
  const passive = new PassiveTierBreaker(1, 60_000);
  const range = { requested: planned[0]!, minTier: "bronze", maxTier };
  const demand = { prompt: { bound: 24_000, over: (n: number) => 6_000 > n, count: () => 6_000 }, askedMaxTokens: 256, tenant: "acme" };
  const r = new RouteRequest(
    { passive, maxAttempts: 4 },
    {
      tenant: "acme",
      input: create(CompletionInputSchema, { messages: [{ role: "user", content: "long" }], maxTokens: 256 }),
      classification: {
        ...create(ClassifyResponseSchema, { tier: planned[0]!, promptTokens: 6_000 }),
        urgency: "interactive" as const,
        promptTokensOver: (n: number) => 6_000 > n,
      },
      plan: { tiers: planned, reasons: [], done: () => {} },
      deadline: Date.now() + 5_000,
      signal: new AbortController().signal,
      started: performance.now(),
      context: { fit, range, demand },
    },
  );
  return { r, calls, opened, passive };
}

async function served(r: RouteRequest, calls: TierCalls): Promise<string> {
  for await (const e of raceTiers(r, calls, true)) if (e.case === "done") return e.value.tier;
  throw new Error("no answer");
}

describe("a refusal for length on the way", () => {
  it("moves the request to a tier with a larger window, not down its fallback chain, and leaves the passive breaker alone", async () => {
    const { r, calls, opened, passive } = setup(["silver", "bronze"], "gold", { silver: "refuse", gold: "answer" });
    expect(await served(r, calls)).toBe("gold");
    // bronze's window is no larger than silver's: never tried.
    expect(opened.map((o) => o.tier)).toEqual(["silver", "gold"]);
    expect(opened[0]!.promptTokens).toBe(6_000);
    expect(r.reasons.join("\n")).toContain("silver refused the prompt's length");
    expect(r.reasons.join("\n")).toContain("tried gold, which has a larger context window");
    expect(passive.isOpen("silver")).toBe(false);
  });

  it("with nothing larger allowed: INVALID_ARGUMENT naming the miss, and no tier below tried", async () => {
    const { r, calls, opened, passive } = setup(["silver", "bronze"], "silver", { silver: "refuse", bronze: "answer" });
    const err = await served(r, calls).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.InvalidArgument);
    expect(err?.metadata.get(ERROR_REASON_HEADER)).toBe(CONTEXT_LENGTH_EXCEEDED);
    expect(err?.rawMessage).toMatch(
      /^prompt of 6,000 tokens plus max_tokens 256 does not fit any model allowed for this plan: .*sim-silver: refused/,
    );
    expect(opened.map((o) => o.tier)).toEqual(["silver"]);
    expect(passive.isOpen("silver")).toBe(false);
  });
});

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  ClassifyResponseSchema,
  ExecuteResponseSchema,
  ExecuteStreamResponseSchema,
  HedgeAdviceSchema,
  InterruptedAnswerSchema,
  StartedSchema,
  ToolCallDeltaSchema,
  type ExecuteStreamResponse,
} from "@tiermesh/proto";
import { afterReplyIdle } from "@tiermesh/runtime";
import { describe, expect, it } from "vitest";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { RouteRequest } from "./route-request.js";
import { raceTiers, type TierCalls, type TierEvent } from "./tier-race.js";

type Script = (signal: AbortSignal, streamed: boolean) => AsyncGenerator<ExecuteStreamResponse>;

const ev = (event: ExecuteStreamResponse["event"]) => create(ExecuteStreamResponseSchema, { event });
const delta = (value: string) => ev({ case: "delta", value });
const toolCall = (index: number, id: string, name: string, args: string) =>
  ev({ case: "toolCall", value: create(ToolCallDeltaSchema, { index, id, name, arguments: args }) });
const started = () => ev({ case: "started", value: create(StartedSchema, { ttftUs: 1n }) });
const advice = (waitedMs = 50) =>
  ev({ case: "hedgeAdvice", value: create(HedgeAdviceSchema, { reason: "no other deployment", waitedMs }) });
const done = (tier: string, content = "") =>
  ev({ case: "done", value: create(ExecuteResponseSchema, { tier, content, finishReason: "stop", attempts: 1 }) });

/** Waits until aborted, then throws like a cancelled client call. */
function hang(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(new ConnectError("cancelled", Code.Canceled));
    if (signal.aborted) fail();
    signal.addEventListener("abort", fail, { once: true });
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup(
  scripts: Record<string, Script>,
  options: { hedges?: boolean; budget?: () => boolean; maxAttempts?: number; continues?: (tier: string) => boolean } = {},
) {
  const tiers = Object.keys(scripts);
  const opened: { tier: string; collect: boolean; streamed: boolean; signal: AbortSignal; prefix: string }[] = [];
  const calls: TierCalls = {
    continues: options.continues ?? (() => true),
    open(tier, request, opts, streamed) {
      opened.push({ tier, collect: request.collect ?? false, streamed, signal: opts.signal, prefix: request.assistantPrefix ?? "" });
      return scripts[tier]!(opts.signal, streamed);
    },
    hedges: () => options.hedges ?? true,
    deposit: () => {},
    tryHedge: options.budget ?? (() => true),
  };
  const finished: string[] = [];
  const r = new RouteRequest(
    {
      passive: new PassiveTierBreaker(),
      maxAttempts: options.maxAttempts ?? 6,
      onFinished: (_requested, served, code) => finished.push(`${served}:${code}`),
    },
    {
      tenant: "acme",
      input: { $typeName: "tiermesh.common.v1.CompletionInput" } as never,
      classification: {
        ...create(ClassifyResponseSchema, { tier: tiers[0]!, reasons: ["classified"] }),
        urgency: "interactive" as const,
        promptTokensOver: () => false,
      },
      plan: { tiers, reasons: [], done: () => {} },
      deadline: Date.now() + 5_000,
      signal: new AbortController().signal,
      started: performance.now(),
    },
  );
  return { r, calls, opened, finished };
}

async function collect(gen: AsyncGenerator<TierEvent>) {
  const deltas: string[] = [];
  let result: Extract<TierEvent, { case: "done" }> | undefined;
  for await (const e of gen) {
    if (e.case === "delta") deltas.push(e.value);
    else if (e.case === "done") result = e;
  }
  return { deltas, result: result! };
}

describe("raceTiers", () => {
  it("serves from the first tier when it answers", async () => {
    const { r, calls, opened, finished } = setup({
      gold: async function* () {
        yield delta("hi");
        yield done("gold");
      },
      silver: async function* () {
        throw new Error("not called");
      },
    });
    const { deltas, result } = await collect(raceTiers(r, calls, false));
    expect(deltas).toEqual(["hi"]);
    expect(result.value.tier).toBe("gold");
    expect(result.tierAttempts).toBe(1);
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
    await afterReplyIdle();
    expect(finished).toEqual(["gold:ok"]);
  });

  it("falls back to the next tier when a tier fails before its first token", async () => {
    const { r, calls } = setup({
      gold: async function* () {
        throw new ConnectError("every deployment is stalled", Code.Unavailable);
      },
      silver: async function* () {
        yield done("silver", "answer");
      },
    });
    const { result } = await collect(raceTiers(r, calls, true));
    expect(result.value.tier).toBe("silver");
    expect(r.reasons.join("\n")).toMatch(/gold failed in-request \(Unavailable: every deployment is stalled\); fell back to silver/);
  });

  it("on hedge advice races the next tier and cancels the slower one", async () => {
    let goldSignal: AbortSignal | undefined;
    const { r, calls, opened } = setup({
      gold: async function* (signal) {
        goldSignal = signal;
        yield advice(80);
        await hang(signal);
      },
      silver: async function* () {
        await sleep(5);
        yield delta("from silver");
        yield done("silver");
      },
    });
    const { deltas, result } = await collect(raceTiers(r, calls, false));
    expect(deltas).toEqual(["from silver"]);
    expect(result.value.tier).toBe("silver");
    expect(result.tierAttempts).toBe(2);
    expect(goldSignal?.aborted).toBe(true);
    expect(opened.map((o) => o.tier)).toEqual(["gold", "silver"]);
    expect(r.reasons.join("\n")).toMatch(/gold had no first token after 80 ms \(no other deployment\); hedged on silver/);
    expect(r.reasons.join("\n")).toMatch(/silver answered first; cancelled gold/);
  });

  it("keeps the primary when it answers before the hedge", async () => {
    let silverSignal: AbortSignal | undefined;
    const { r, calls } = setup({
      gold: async function* () {
        yield advice();
        await sleep(5);
        yield delta("gold text");
        yield done("gold");
      },
      silver: async function* (signal) {
        silverSignal = signal;
        await hang(signal);
      },
    });
    const { result } = await collect(raceTiers(r, calls, false));
    expect(result.value.tier).toBe("gold");
    expect(silverSignal?.aborted).toBe(true);
  });

  it("does not hedge when the hedge budget is spent", async () => {
    const { r, calls, opened } = setup(
      {
        gold: async function* () {
          yield advice();
          await sleep(10);
          yield done("gold", "late");
        },
        silver: async function* () {
          yield done("silver");
        },
      },
      { budget: () => false },
    );
    const { result } = await collect(raceTiers(r, calls, true));
    expect(result.value.tier).toBe("gold");
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
  });

  it("lets the hedge finish when the primary fails during the race", async () => {
    const { r, calls } = setup({
      gold: async function* () {
        yield advice();
        await sleep(2);
        throw new ConnectError("stalled", Code.Unavailable);
      },
      silver: async function* () {
        await sleep(15);
        yield done("silver", "ok");
      },
    });
    const { result } = await collect(raceTiers(r, calls, true));
    expect(result.value.tier).toBe("silver");
    expect(r.reasons.join("\n")).toMatch(/gold failed in-request \(Unavailable: stalled\) while silver still ran/);
  });

  it("collect mode: a tier that fails after its first-token signal still falls back (nothing reached the caller)", async () => {
    const { r, calls, opened } = setup({
      gold: async function* () {
        yield started();
        throw new ConnectError("stream interrupted after the first token", Code.Unavailable);
      },
      silver: async function* () {
        yield started();
        yield done("silver", "whole answer");
      },
    });
    const { result } = await collect(raceTiers(r, calls, true));
    expect(result.value.content).toBe("whole answer");
    // gold could hedge on silver, so it was streamed in collect mode; silver, the last tier, was called unary.
    expect(opened.map((o) => [o.tier, o.streamed, o.collect])).toEqual([
      ["gold", true, true],
      ["silver", false, false],
    ]);
  });

  it("a stream cut after text reached the caller is continued on the next tier from that text, never restarted", async () => {
    const { r, calls, opened, finished } = setup({
      gold: async function* () {
        yield delta("The answer");
        throw new ConnectError("tier gold: stream interrupted after the first token: cut", Code.Unavailable, { "tiermesh-attempts": "1" });
      },
      silver: async function* () {
        yield delta(" is");
        yield delta(" 42.");
        yield done("silver");
      },
    });
    const { deltas, result } = await collect(raceTiers(r, calls, false));
    expect(deltas.join("")).toBe("The answer is 42.");
    expect(opened.map((o) => [o.tier, o.prefix, o.streamed])).toEqual([
      ["gold", "", true],
      ["silver", "The answer", true],
    ]);
    expect(result.value.tier).toBe("silver");
    expect(result.tierAttempts).toBe(2);
    await afterReplyIdle();
    expect(finished).toEqual(["silver:ok"]);
    expect(r.reasons.at(-1)).toBe(
      "gold's stream failed after 10 characters reached the caller (Unavailable: tier gold: stream interrupted after the first token: cut); continued on silver from that text as an assistant prefix",
    );
    expect(r.respond(result.value, result.tierAttempts, "", result.ttftUs).routing?.continuations).toBe(1);
  });

  it("collect mode: continues from the text the executor collected (InterruptedAnswer) and returns the whole answer", async () => {
    const interrupted = new ConnectError("tier gold: stream interrupted after the first token: cut", Code.Unavailable, undefined, [
      { desc: InterruptedAnswerSchema, value: { delivered: "The answer" } },
    ]);
    const { r, calls, opened } = setup(
      {
        gold: async function* () {
          throw interrupted;
        },
        silver: async function* (_signal, streamed) {
          expect(streamed).toBe(false);
          yield done("silver", " is 42.");
        },
      },
      { hedges: false },
    );
    const { deltas, result } = await collect(raceTiers(r, calls, true));
    expect(deltas).toEqual([]);
    expect(result.value.content).toBe("The answer is 42.");
    expect(opened.map((o) => [o.tier, o.prefix])).toEqual([
      ["gold", ""],
      ["silver", "The answer"],
    ]);
  });

  it("a tier that fails after adding text hands the longer prefix to the next one", async () => {
    const { r, calls, opened } = setup({
      gold: async function* () {
        yield delta("a");
        throw new ConnectError("cut", Code.Unavailable);
      },
      silver: async function* () {
        yield delta("b");
        throw new ConnectError("cut again", Code.Unavailable);
      },
      bronze: async function* () {
        yield delta("c");
        yield done("bronze");
      },
    });
    const { deltas } = await collect(raceTiers(r, calls, false));
    expect(deltas.join("")).toBe("abc");
    expect(opened.map((o) => o.prefix)).toEqual(["", "a", "ab"]);
  });

  it("when no tier can continue, the caller gets the original failure, not a target's refusal", async () => {
    const { r, calls, opened, finished } = setup({
      gold: async function* () {
        yield delta("half");
        throw new ConnectError("tier gold: stream interrupted after the first token: cut", Code.Unavailable);
      },
      silver: async function* () {
        throw new ConnectError("tier silver: no deployment of tier silver can continue an answer", Code.FailedPrecondition);
      },
      bronze: async function* () {
        throw new ConnectError("tier bronze: HTTP 400: prefill not supported", Code.InvalidArgument);
      },
    });
    const err = await collect(raceTiers(r, calls, false)).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toBe("tier gold: stream interrupted after the first token: cut");
    expect(opened.map((o) => o.tier)).toEqual(["gold", "silver", "bronze"]);
    await afterReplyIdle();
    expect(finished).toEqual([":Unavailable"]);
    expect(r.reasons.join("\n")).toMatch(/silver could not continue gold's answer \(FailedPrecondition/);
  });

  it("with continuation off on the failed tier, the answer ends with its error and no other tier is called", async () => {
    const { r, calls, opened } = setup(
      {
        gold: async function* () {
          yield delta("half");
          throw new ConnectError("cut", Code.Unavailable);
        },
        silver: async function* () {
          yield done("silver");
        },
      },
      { continues: (tier) => tier !== "gold" },
    );
    await expect(collect(raceTiers(r, calls, false))).rejects.toThrow(/cut/);
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
  });

  it("does not continue past the attempt budget", async () => {
    const { r, calls, opened } = setup(
      {
        gold: async function* () {
          yield delta("half");
          throw new ConnectError("cut", Code.Unavailable, { "tiermesh-attempts": "2" });
        },
        silver: async function* () {
          yield done("silver");
        },
      },
      { maxAttempts: 2 },
    );
    await expect(collect(raceTiers(r, calls, false))).rejects.toThrow(/cut/);
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
    expect(r.reasons.at(-1)).toMatch(/no attempts left to continue it on silver/);
  });

  it("calls a tier that cannot hedge unary when the caller collects", async () => {
    const { r, calls, opened } = setup(
      {
        gold: async function* (_signal, streamed) {
          expect(streamed).toBe(false);
          yield done("gold", "x");
        },
        silver: async function* () {},
      },
      { hedges: false },
    );
    await collect(raceTiers(r, calls, true));
    expect(opened[0]).toMatchObject({ streamed: false, collect: false });
  });

  it("stops when the attempt budget is used", async () => {
    const fail = async function* (): AsyncGenerator<ExecuteStreamResponse> {
      throw new ConnectError("down", Code.Unavailable, { "tiermesh-attempts": "2" });
    };
    const { r, calls, opened } = setup({ gold: fail, silver: fail, bronze: fail }, { maxAttempts: 2 });
    await expect(collect(raceTiers(r, calls, true))).rejects.toThrow(/down/);
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
    expect(r.reasons.join("\n")).toMatch(/no attempts left for silver/);
  });

  it("a tool call piece is the first token: it keeps the request and cancels the hedge", async () => {
    const { r, calls, opened } = setup({
      gold: async function* (signal) {
        yield advice();
        await sleep(30);
        if (signal.aborted) return;
        yield delta("late");
        yield done("gold");
      },
      silver: async function* () {
        yield toolCall(0, "call_1", "look", "");
        yield toolCall(0, "", "", '{"x":1}');
        yield done("silver");
      },
    });
    const events: TierEvent[] = [];
    for await (const e of raceTiers(r, calls, false)) events.push(e);
    expect(events.map((e) => e.case)).toEqual(["toolCall", "toolCall", "done"]);
    expect(opened.map((o) => o.tier)).toEqual(["gold", "silver"]);
    expect(opened[0]!.signal.aborted).toBe(true);
    expect(r.reasons.join("; ")).toContain("silver answered first; cancelled gold");
  });

  it("a stream cut after a tool call piece reached the caller fails with its error: a tool call is never continued", async () => {
    const { r, calls, opened, finished } = setup({
      gold: async function* () {
        yield delta("Checking.");
        yield toolCall(0, "call_1", "look", "");
        throw new ConnectError("stream interrupted after the first token", Code.Unavailable);
      },
      silver: async function* () {
        yield done("silver", "never");
      },
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const e of raceTiers(r, calls, false)) seen.push(e.case);
    })().then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(seen).toEqual(["delta", "toolCall"]);
    expect(err?.code).toBe(Code.Unavailable);
    expect(opened.map((o) => o.tier)).toEqual(["gold"]);
    await afterReplyIdle();
    expect(finished).toEqual([":Unavailable"]);
    expect(r.reasons.join("; ")).toContain("a tool call cannot be continued elsewhere");
  });
});

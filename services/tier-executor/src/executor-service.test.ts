import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { InterruptedAnswerSchema, TierExecutorService, type ExecuteStreamResponse } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { createTierExecutorService } from "./executor-service.js";
import { answering, FakeProvider, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import { ProviderError } from "./providers/provider-error.js";
import { TierRunner } from "./tier-runner.js";

// The executor's RPC surface in memory (createRouterTransport) over a runner with fake providers.

function clientFor(models: Record<string, Behaviour>, tier: Record<string, unknown> = {}) {
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), tier),
    providers: new Map([["fake", new FakeProvider(models)]]),
    report: () => undefined,
    random: () => 0,
  });
  const transport = createRouterTransport(({ service }) =>
    service(TierExecutorService, createTierExecutorService({ tierName: "gold", runner, defaultTimeoutMs: 5_000 })),
  );
  return createClient(TierExecutorService, transport);
}

const input = { messages: [{ role: "user", content: "Say hello." }], maxTokens: 8 };

type Event = ExecuteStreamResponse["event"];

async function stream(client: ReturnType<typeof clientFor>, collect: boolean): Promise<Event[]> {
  const events: Event[] = [];
  for await (const res of client.executeStream({ tier: "gold", tenant: "acme", input, collect })) events.push(res.event);
  return events;
}

const cases = (events: readonly Event[]) => events.map((e) => e.case);

const HEDGE = { hedge: { enabled: true, delay_ms: 30, min_delay_ms: 0, max_extra_ratio: 1 } };

describe("TierExecutorService.executeStream", () => {
  it("normal mode: a delta per piece, then done with empty content", async () => {
    const events = await stream(clientFor({ a: answering(5) }), false);
    expect(cases(events)).toEqual(["delta", "delta", "done"]);
    expect(events.slice(0, 2).map((e) => e.value)).toEqual(["Hello", " there"]);
    const done = events[2]!;
    expect(done.case === "done" && done.value).toMatchObject({ content: "", deployment: "a", finishReason: "stop" });
  });

  it("collect mode: one started event at the first token, no deltas, the whole text in done", async () => {
    const events = await stream(clientFor({ a: answering(40) }), true);
    expect(cases(events)).toEqual(["started", "done"]);
    const [started, done] = events;
    expect(started?.case === "started" && Number(started.value.ttftUs)).toBeGreaterThanOrEqual(39_000);
    expect(done?.case === "done" && done.value).toMatchObject({ content: "Hello there", deployment: "a" });
  });

  it("collect mode with an empty answer still sends started, just before done", async () => {
    const events = await stream(clientFor({ a: answering(5, []) }), true);
    expect(cases(events)).toEqual(["started", "done"]);
  });

  it("sends hedge advice once, before the first token, in both modes, when the tier has nothing to hedge on", async () => {
    const client = clientFor({ a: answering(120) }, HEDGE);
    const normal = await stream(client, false);
    expect(cases(normal)).toEqual(["hedgeAdvice", "delta", "delta", "done"]);
    const advice = normal[0]!;
    expect(advice.case === "hedgeAdvice" && advice.value.reason).toMatch(/no other usable deployment/);
    expect(advice.case === "hedgeAdvice" && advice.value.waitedMs).toBeGreaterThanOrEqual(29);

    expect(cases(await stream(client, true))).toEqual(["hedgeAdvice", "started", "done"]);
  });

  it("unary execute ignores the advice and returns the whole text", async () => {
    const res = await clientFor({ a: answering(80) }, HEDGE).execute({ tier: "gold", tenant: "acme", input });
    expect(res.content).toBe("Hello there");
  });

  it("a failure ends the stream with the runner's error instead of done", async () => {
    const client = clientFor({ a: answering(5) }, { timeouts: { ttft_ms: 1 }, stall: { enabled: false }, retries: { max_attempts: 1 } });
    const err = await stream(client, true).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.DeadlineExceeded);
  });

  it("a failure after text carries that text as an InterruptedAnswer detail when collecting, and in unary calls", async () => {
    const cutAfterHello: Behaviour = async function* () {
      yield { type: "delta", text: "Hello" };
      throw new ProviderError("network", "socket hang up");
    };
    const client = clientFor({ a: cutAfterHello }, { retries: { max_attempts: 1 } });
    const failure = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    for (const err of [await failure(stream(client, true)), await failure(client.execute({ tier: "gold", tenant: "acme", input }))]) {
      expect(err?.code).toBe(Code.Unavailable);
      expect(err?.rawMessage).toContain("stream interrupted after the first token");
      expect(err?.findDetails(InterruptedAnswerSchema).map((d) => d.delivered)).toEqual(["Hello"]);
    }
    // Streaming deltas, the caller has the text already: no detail.
    const streamed = await failure(stream(client, false));
    expect(streamed?.findDetails(InterruptedAnswerSchema)).toEqual([]);
  });

  it("passes the assistant prefix on and returns only the continuation, with the continuation count", async () => {
    const echo: Behaviour = async function* (request) {
      yield { type: "delta", text: `<${request.assistantPrefix ?? ""}>` };
      yield { type: "done", finishReason: "stop", usage: { promptTokens: 3, completionTokens: 1 } };
    };
    const res = await clientFor({ a: echo }).execute({ tier: "gold", tenant: "acme", input, assistantPrefix: "So far" });
    expect(res.content).toBe("<So far>");
    expect(res.continuations).toBe(0);
  });
});

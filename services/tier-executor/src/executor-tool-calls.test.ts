import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { InterruptedAnswerSchema, TierExecutorService, type ExecuteStreamResponse } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { createTierExecutorService } from "./executor-service.js";
import { FakeProvider, sleep, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import type { ProviderRequest } from "./providers/provider-adapter.js";
import { ProviderError } from "./providers/provider-error.js";
import { TierRunner } from "./tier-runner.js";

// Tool calls through the executor's RPC, in memory, over fake providers.

/** Text, then one tool call whose arguments come in three pieces; optionally cut after the call began. */
const callingTool = (o: { cutAfterCall?: boolean } = {}): Behaviour =>
  async function* (_request, signal) {
    await sleep(2, signal);
    yield { type: "delta", text: "Checking." };
    yield { type: "tool_call", call: { index: 0, id: "call_1", name: "get_weather", arguments: "" } };
    yield { type: "tool_call", call: { index: 0, id: "", name: "", arguments: '{"city"' } };
    if (o.cutAfterCall) throw new ProviderError("server", "connection reset");
    yield { type: "tool_call", call: { index: 0, id: "", name: "", arguments: ': "Paris"}' } };
    yield { type: "done", finishReason: "tool_calls", usage: { promptTokens: 20, completionTokens: 9 } };
  };

function clientFor(models: Record<string, Behaviour>, seen: ProviderRequest[] = []) {
  const provider = new FakeProvider(
    Object.fromEntries(Object.entries(models).map(([id, b]) => [id, (r: ProviderRequest, s: AbortSignal) => (seen.push(r), b(r, s))])),
  );
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), { retries: { max_attempts: 2, backoff_ms: 1 } }),
    providers: new Map([["fake", provider]]),
    report: () => undefined,
    random: () => 0,
  });
  const transport = createRouterTransport(({ service }) =>
    service(TierExecutorService, createTierExecutorService({ tierName: "gold", runner, defaultTimeoutMs: 5_000 })),
  );
  return createClient(TierExecutorService, transport);
}

const input = {
  messages: [
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: "", toolCalls: [{ id: "call_0", name: "get_weather", argumentsJson: '{"city":"Oslo"}' }] },
    { role: "tool", content: "9 °C", toolCallId: "call_0" },
  ],
  maxTokens: 32,
  tools: [{ name: "get_weather", description: "Weather", parametersJson: '{"type":"object"}' }],
  toolChoice: { mode: "auto" },
};

describe("TierExecutorService: tool calls", () => {
  it("streams tool call pieces in order with the text, and hands the provider the tools and the earlier round trip", async () => {
    const seen: ProviderRequest[] = [];
    const events: ExecuteStreamResponse["event"][] = [];
    for await (const res of clientFor({ a: callingTool() }, seen).executeStream({ tier: "gold", tenant: "acme", input }))
      events.push(res.event);
    expect(events.map((e) => e.case)).toEqual(["delta", "toolCall", "toolCall", "toolCall", "done"]);
    expect(events.slice(1, 4).map((e) => (e.case === "toolCall" ? e.value.arguments : ""))).toEqual(["", '{"city"', ': "Paris"}']);
    const done = events.at(-1)!;
    expect(done.case === "done" && done.value).toMatchObject({ finishReason: "tool_calls", toolCalls: [] });
    expect(seen[0]).toMatchObject({
      tools: [{ name: "get_weather", parameters: '{"type":"object"}' }],
      toolChoice: { mode: "auto" },
      messages: [
        { role: "user" },
        { role: "assistant", toolCalls: [{ id: "call_0", arguments: '{"city":"Oslo"}' }] },
        { role: "tool", toolCallId: "call_0" },
      ],
    });
  });

  it("unary and collect mode: the calls whole in the response", async () => {
    const unary = await clientFor({ a: callingTool() }).execute({ tier: "gold", tenant: "acme", input });
    expect(unary.content).toBe("Checking.");
    expect(unary.toolCalls).toMatchObject([{ id: "call_1", name: "get_weather", argumentsJson: '{"city": "Paris"}' }]);
    const events: ExecuteStreamResponse["event"][] = [];
    for await (const res of clientFor({ a: callingTool() }).executeStream({ tier: "gold", tenant: "acme", input, collect: true }))
      events.push(res.event);
    expect(events.map((e) => e.case)).toEqual(["started", "done"]);
    const done = events[1]!;
    expect(done.case === "done" && done.value.toolCalls[0]?.argumentsJson).toBe('{"city": "Paris"}');
  });

  it("does not continue an answer cut after a tool call began, and gives no text to continue it with", async () => {
    const client = clientFor({ a: callingTool({ cutAfterCall: true }), b: callingTool() });
    const err = await client.execute({ tier: "gold", tenant: "acme", input }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.Unavailable);
    expect(err?.rawMessage).toContain("stream interrupted after the first token");
    expect(err?.findDetails(InterruptedAnswerSchema)).toEqual([]);
  });

  it("refuses, naming the field, a tool choice naming no offered tool and JSON text that is not JSON", async () => {
    const client = clientFor({ a: callingTool() });
    const refused = async (changed: object) =>
      ConnectError.from(
        await client.execute({ tier: "gold", tenant: "acme", input: { ...input, ...changed } }).then(
          () => undefined,
          (e: unknown) => e,
        ),
      );
    const choice = await refused({ toolChoice: { mode: "function", functionName: "nope" } });
    expect(choice.code).toBe(Code.InvalidArgument);
    expect(choice.rawMessage).toContain("input.tool_choice.function_name");
    expect((await refused({ tools: [{ name: "t", parametersJson: "{" }] })).rawMessage).toContain("input.tools[0].parameters_json");
    expect((await refused({ messages: [{ role: "tool", content: "x" }] })).rawMessage).toContain("input.messages[0].tool_call_id");
  });
});

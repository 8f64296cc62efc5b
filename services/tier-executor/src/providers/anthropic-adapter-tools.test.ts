import type { ServerResponse } from "node:http";
import type { ProviderConfig } from "@tiermesh/config";
import { afterEach, describe, expect, it } from "vitest";
import { ToolCallAssembly } from "../tool-call-assembly.js";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import type { ProviderAdapter, ProviderEvent, ProviderRequest } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { closeProviders, startProvider } from "./provider-server.test-support.js";

// Tool use, image blocks and JSON schema answers against a real HTTP server speaking the Messages stream.

const adapters: ProviderAdapter[] = [];
afterEach(async () => {
  await Promise.all([closeProviders(), ...adapters.splice(0).map((a) => a.close())]);
});

function adapter(baseUrl: string): ProviderAdapter {
  const created = createAnthropicAdapter(
    "test-anthropic",
    { kind: "anthropic", base_url: baseUrl, connections: 4, continuation: "prefix" } as ProviderConfig,
    "k",
  );
  adapters.push(created);
  return created;
}

const weather = {
  name: "get_weather",
  description: "Weather in a city",
  parameters: JSON.stringify({ type: "object", properties: { city: { type: "string" } } }),
  strict: false,
};

function send(res: ServerResponse, data: { type: string } & Record<string, unknown>): void {
  res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** A text block, then a tool_use block whose input streams as input_json_delta fragments, ending in stop_reason tool_use. */
function toolUseStream(fragments: readonly string[]) {
  return (res: ServerResponse) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    send(res, {
      type: "message_start",
      message: { id: "msg_1", role: "assistant", content: [], usage: { input_tokens: 40, output_tokens: 1 } },
    });
    send(res, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
    send(res, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Let me look." } });
    send(res, { type: "content_block_stop", index: 0 });
    send(res, {
      type: "content_block_start",
      index: 1,
      content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} },
    });
    for (const partial_json of fragments)
      send(res, { type: "content_block_delta", index: 1, delta: { type: "input_json_delta", partial_json } });
    send(res, { type: "content_block_stop", index: 1 });
    send(res, { type: "message_delta", delta: { stop_reason: "tool_use", stop_sequence: null }, usage: { output_tokens: 25 } });
    send(res, { type: "message_stop" });
    res.end();
  };
}

async function events(target: ProviderAdapter, req: ProviderRequest): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const e of target.stream(req, new AbortController().signal)) out.push(e);
  return out;
}

const ask: ProviderRequest = {
  model: "claude-test",
  messages: [{ role: "user", content: "Weather in Paris?" }],
  maxTokens: 64,
  tools: [weather],
};

describe("anthropic adapter: tool use", () => {
  it("turns a tool_use block into a tool call streamed in pieces, and stop_reason tool_use into tool_calls", async () => {
    const provider = await startProvider(toolUseStream(['{"city"', ': "Par', 'is"}']));
    const out = await events(adapter(provider.url), ask);
    expect(out.filter((e) => e.type === "delta")).toEqual([{ type: "delta", text: "Let me look." }]);
    const pieces = out.flatMap((e) => (e.type === "tool_call" ? [e.call] : []));
    expect(pieces.map((p) => p.arguments)).toEqual(["", '{"city"', ': "Par', 'is"}']);
    const calls = new ToolCallAssembly();
    for (const p of pieces) calls.add(p);
    expect(calls.calls).toEqual([{ id: "toolu_1", name: "get_weather", arguments: '{"city": "Paris"}' }]);
    expect(out.at(-1)).toEqual({ type: "done", finishReason: "tool_calls", usage: { promptTokens: 40, completionTokens: 25 } });
  });

  it("gives a call without input the arguments {}", async () => {
    const provider = await startProvider(toolUseStream([]));
    const calls = new ToolCallAssembly();
    for (const e of await events(adapter(provider.url), ask)) if (e.type === "tool_call") calls.add(e.call);
    expect(calls.calls[0]!.arguments).toBe("{}");
  });

  it("sends tools with input_schema, maps tool_choice, and sends the round trip back as tool_use and tool_result blocks", async () => {
    const provider = await startProvider(toolUseStream(["{}"]));
    await events(adapter(provider.url), {
      ...ask,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Weather in Paris and Oslo?" },
        {
          role: "assistant",
          content: "Let me look.",
          toolCalls: [
            { id: "toolu_1", name: "get_weather", arguments: '{"city":"Paris"}' },
            { id: "toolu_2", name: "get_weather", arguments: '{"city":"Oslo"}' },
          ],
        },
        { role: "tool", content: "18 °C", toolCallId: "toolu_1" },
        { role: "tool", content: "9 °C", toolCallId: "toolu_2" },
      ],
      toolChoice: { mode: "required", functionName: "" },
      parallelToolCalls: false,
      stop: ["END"],
      seed: 7,
      user: "u-1",
    });
    const body = JSON.parse(provider.received[0]!.body) as Record<string, unknown>;
    expect(body["tools"]).toEqual([
      { name: "get_weather", description: "Weather in a city", input_schema: JSON.parse(weather.parameters) },
    ]);
    expect(body["tool_choice"]).toEqual({ type: "any", disable_parallel_tool_use: true });
    expect(body["messages"]).toEqual([
      { role: "user", content: "Weather in Paris and Oslo?" },
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
          { type: "tool_use", id: "toolu_2", name: "get_weather", input: { city: "Oslo" } },
        ],
      },
      {
        role: "user",
        content: [
          { type: "tool_result", tool_use_id: "toolu_1", content: "18 °C" },
          { type: "tool_result", tool_use_id: "toolu_2", content: "9 °C" },
        ],
      },
    ]);
    expect(body).toMatchObject({ system: "Be brief.", stop_sequences: ["END"], metadata: { user_id: "u-1" } });
    // Anthropic has no seed.
    expect(body).not.toHaveProperty("seed");
  });

  it("maps each tool_choice: auto, none, a named function", async () => {
    const provider = await startProvider(toolUseStream(["{}"]));
    const a = adapter(provider.url);
    await events(a, { ...ask, toolChoice: { mode: "auto", functionName: "" } });
    await events(a, { ...ask, toolChoice: { mode: "none", functionName: "" } });
    await events(a, { ...ask, toolChoice: { mode: "function", functionName: "get_weather" } });
    expect(provider.received.map((r) => (JSON.parse(r.body) as { tool_choice: unknown }).tool_choice)).toEqual([
      { type: "auto" },
      { type: "none" },
      { type: "tool", name: "get_weather" },
    ]);
  });

  it("maps image parts to image blocks: a base64 data URL to a base64 source, an http URL to a url source", async () => {
    const provider = await startProvider(toolUseStream(["{}"]));
    const parts = [
      { type: "text" as const, text: "Compare:" },
      { type: "image" as const, url: "data:image/jpeg;base64,/9j/4AAQ", detail: "" },
      { type: "image" as const, url: "https://example.com/cat.png", detail: "high" },
    ];
    await events(adapter(provider.url), { model: "claude-test", messages: [{ role: "user", content: "Compare:", parts }], maxTokens: 16 });
    expect((JSON.parse(provider.received[0]!.body) as { messages: unknown }).messages).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "Compare:" },
          { type: "image", source: { type: "base64", media_type: "image/jpeg", data: "/9j/4AAQ" } },
          { type: "image", source: { type: "url", url: "https://example.com/cat.png" } },
        ],
      },
    ]);
  });

  it("answers a JSON schema through one forced tool, whose input streams back as the answer's text", async () => {
    const provider = await startProvider(toolUseStream(['{"city"', ': "Paris"}']));
    const schema = JSON.stringify({ type: "object", properties: { city: { type: "string" } }, required: ["city"] });
    const out = await events(adapter(provider.url), {
      model: "claude-test",
      messages: [{ role: "user", content: "Where?" }],
      maxTokens: 64,
      jsonSchema: { name: "place", description: "", schema, strict: true },
    });
    const body = JSON.parse(provider.received[0]!.body) as Record<string, unknown>;
    expect(body["tools"]).toEqual([
      { name: "json_answer", description: "Give the answer (place) as this tool's input.", input_schema: JSON.parse(schema) },
    ]);
    expect(body["tool_choice"]).toEqual({ type: "tool", name: "json_answer" });
    const text = out.flatMap((e) => (e.type === "delta" ? [e.text] : [])).join("");
    // Text beside the forced call is not part of a JSON answer.
    expect(text).toBe('{"city": "Paris"}');
    expect(out.some((e) => e.type === "tool_call")).toBe(false);
    expect(out.at(-1)).toMatchObject({ type: "done", finishReason: "stop" });
  });

  it("refuses, as a client error and without a call, a JSON schema together with tools, or one that is not an object", async () => {
    const provider = await startProvider(toolUseStream(["{}"]));
    const a = adapter(provider.url);
    const refused = (req: ProviderRequest) =>
      events(a, req).then(
        () => undefined,
        (e: unknown) => e,
      );
    const both = await refused({ ...ask, jsonSchema: { name: "x", description: "", schema: '{"type":"object"}', strict: false } });
    expect(both).toBeInstanceOf(ProviderError);
    expect((both as ProviderError).failure).toBe("client");
    expect((both as ProviderError).message).toContain("response_format json_schema together with tools");
    const notObject = await refused({
      model: "claude-test",
      messages: [{ role: "user", content: "n" }],
      maxTokens: 8,
      jsonSchema: { name: "n", description: "", schema: '{"type":"number"}', strict: false },
    });
    expect((notObject as ProviderError).message).toContain("must describe an object");
    expect(provider.received).toHaveLength(0);
  });

  it("a whole round trip: the tool_use block comes out as a call, the call and its result go back as tool_use and tool_result, text comes back", async () => {
    const provider = await startProvider((res, req) => {
      void req;
      // First call: tool use; second (it carries the result): a text answer.
      if (provider.received.length === 1) return toolUseStream(['{"city": "Paris"}'])(res);
      res.writeHead(200, { "content-type": "text/event-stream" });
      send(res, {
        type: "message_start",
        message: { id: "msg_2", role: "assistant", content: [], usage: { input_tokens: 60, output_tokens: 1 } },
      });
      send(res, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
      send(res, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "It is 18 °C." } });
      send(res, { type: "content_block_stop", index: 0 });
      send(res, { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 6 } });
      send(res, { type: "message_stop" });
      res.end();
    });
    const a = adapter(provider.url);
    const calls = new ToolCallAssembly();
    let text = "";
    for (const e of await events(a, ask)) {
      if (e.type === "tool_call") calls.add(e.call);
      if (e.type === "delta") text += e.text;
    }
    const [call] = calls.calls;
    const second = await events(a, {
      ...ask,
      messages: [
        ...ask.messages,
        { role: "assistant", content: text, toolCalls: calls.calls },
        { role: "tool", content: "18 °C", toolCallId: call!.id },
      ],
    });
    expect(second.filter((e) => e.type === "delta")).toEqual([{ type: "delta", text: "It is 18 °C." }]);
    expect(second.at(-1)).toMatchObject({ type: "done", finishReason: "stop" });
    const sent = JSON.parse(provider.received[1]!.body) as { messages: unknown[] };
    expect(sent.messages.slice(1)).toEqual([
      {
        role: "assistant",
        content: [
          { type: "text", text: "Let me look." },
          { type: "tool_use", id: "toolu_1", name: "get_weather", input: { city: "Paris" } },
        ],
      },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: "18 °C" }] },
    ]);
  });
});

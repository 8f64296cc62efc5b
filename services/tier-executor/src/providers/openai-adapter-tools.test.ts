import type { ServerResponse } from "node:http";
import type { ProviderConfig } from "@tiermesh/config";
import { afterEach, describe, expect, it } from "vitest";
import { ToolCallAssembly } from "../tool-call-assembly.js";
import { createOpenAIAdapter } from "./openai-adapter.js";
import type { ProviderAdapter, ProviderEvent, ProviderRequest, ToolCallPiece } from "./provider-adapter.js";
import { closeProviders, startProvider } from "./provider-server.test-support.js";

// Tool calling, content parts and output options against a real HTTP server speaking OpenAI's stream.

const adapters: ProviderAdapter[] = [];
afterEach(async () => {
  await Promise.all([closeProviders(), ...adapters.splice(0).map((a) => a.close())]);
});

function adapter(baseUrl: string): ProviderAdapter {
  const created = createOpenAIAdapter(
    "test-openai",
    { kind: "openai", base_url: baseUrl, connections: 4, continuation: "none" } as ProviderConfig,
    undefined,
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

function sse(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
}

const chunk = (delta: object, finish: string | null = null) => ({
  id: "c1",
  object: "chat.completion.chunk",
  choices: [{ index: 0, delta, finish_reason: finish }],
});

/** Two parallel calls as OpenAI streams them: id and name first, then the arguments in fragments. */
function toolCallStream(res: ServerResponse): void {
  res.writeHead(200, { "content-type": "text/event-stream" });
  sse(res, chunk({ role: "assistant", content: null }));
  sse(res, chunk({ tool_calls: [{ index: 0, id: "call_a", type: "function", function: { name: "get_weather", arguments: "" } }] }));
  for (const part of ['{"ci', 'ty":', ' "Paris"}']) sse(res, chunk({ tool_calls: [{ index: 0, function: { arguments: part } }] }));
  sse(res, chunk({ tool_calls: [{ index: 1, id: "call_b", type: "function", function: { name: "get_weather", arguments: "" } }] }));
  for (const part of ['{"city"', ': "Oslo"}']) sse(res, chunk({ tool_calls: [{ index: 1, function: { arguments: part } }] }));
  sse(res, chunk({}, "tool_calls"));
  sse(res, { id: "c1", object: "chat.completion.chunk", choices: [], usage: { prompt_tokens: 30, completion_tokens: 20 } });
  sse(res, "[DONE]");
  res.end();
}

async function events(target: ProviderAdapter, req: ProviderRequest): Promise<ProviderEvent[]> {
  const out: ProviderEvent[] = [];
  for await (const e of target.stream(req, new AbortController().signal)) out.push(e);
  return out;
}

describe("openai adapter: tools and options", () => {
  it("streams parallel tool calls in pieces (id and name, then argument fragments) and finishes with tool_calls", async () => {
    const provider = await startProvider(toolCallStream);
    const out = await events(adapter(provider.url), {
      model: "gpt-test",
      messages: [{ role: "user", content: "Weather in Paris and Oslo?" }],
      maxTokens: 64,
      tools: [weather],
    });
    const pieces = out.flatMap((e) => (e.type === "tool_call" ? [e.call] : []));
    expect(pieces.filter((p) => p.index === 0).map((p) => p.arguments)).toEqual(["", '{"ci', 'ty":', ' "Paris"}']);
    expect(pieces[0]).toEqual<ToolCallPiece>({ index: 0, id: "call_a", name: "get_weather", arguments: "" });
    const calls = new ToolCallAssembly();
    for (const p of pieces) calls.add(p);
    expect(calls.calls).toEqual([
      { id: "call_a", name: "get_weather", arguments: '{"city": "Paris"}' },
      { id: "call_b", name: "get_weather", arguments: '{"city": "Oslo"}' },
    ]);
    expect(out.at(-1)).toEqual({ type: "done", finishReason: "tool_calls", usage: { promptTokens: 30, completionTokens: 20 } });
  });

  it("sends tools, tool choice, parallel_tool_calls, tool results, content parts, json_schema, stop, seed and user in OpenAI's shape", async () => {
    const provider = await startProvider(toolCallStream);
    await events(adapter(provider.url), {
      model: "gpt-test",
      messages: [
        {
          role: "user",
          content: "What is this?",
          parts: [
            { type: "text", text: "What is this?" },
            { type: "image", url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" },
          ],
        },
        { role: "assistant", content: "", toolCalls: [{ id: "call_a", name: "get_weather", arguments: '{"city":"Paris"}' }] },
        { role: "tool", content: "18 °C", toolCallId: "call_a" },
      ],
      maxTokens: 64,
      tools: [{ ...weather, strict: true }],
      toolChoice: { mode: "function", functionName: "get_weather" },
      parallelToolCalls: false,
      jsonSchema: { name: "answer", description: "", schema: '{"type":"object"}', strict: true },
      stop: ["END"],
      seed: 7,
      user: "u-1",
    });
    const body = JSON.parse(provider.received[0]!.body) as Record<string, unknown>;
    expect(body["messages"]).toEqual([
      {
        role: "user",
        content: [
          { type: "text", text: "What is this?" },
          { type: "image_url", image_url: { url: "data:image/png;base64,iVBORw0KGgo=", detail: "low" } },
        ],
      },
      {
        role: "assistant",
        content: null,
        tool_calls: [{ id: "call_a", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
      },
      { role: "tool", content: "18 °C", tool_call_id: "call_a" },
    ]);
    expect(body["tools"]).toEqual([
      {
        type: "function",
        function: { name: "get_weather", description: "Weather in a city", parameters: JSON.parse(weather.parameters), strict: true },
      },
    ]);
    expect(body).toMatchObject({
      tool_choice: { type: "function", function: { name: "get_weather" } },
      parallel_tool_calls: false,
      response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
      stop: ["END"],
      seed: 7,
      user: "u-1",
    });
  });

  it("leaves out every option the request does not set", async () => {
    const provider = await startProvider(toolCallStream);
    await events(adapter(provider.url), { model: "gpt-test", messages: [{ role: "user", content: "hi" }], maxTokens: 8 });
    const body = JSON.parse(provider.received[0]!.body) as Record<string, unknown>;
    for (const key of ["tools", "tool_choice", "parallel_tool_calls", "response_format", "stop", "seed", "user"])
      expect(body).not.toHaveProperty(key);
  });
});

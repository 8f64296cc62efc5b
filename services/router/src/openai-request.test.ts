import { describe, expect, it } from "vitest";
import { EdgeError } from "./edge-error.js";
import { parseChatBody, toInput } from "./openai-request.js";

const refusal = (body: unknown): EdgeError => {
  try {
    parseChatBody(typeof body === "string" ? body : JSON.stringify(body));
  } catch (err) {
    expect(err).toBeInstanceOf(EdgeError);
    return err as EdgeError;
  }
  throw new Error("expected a refusal");
};

const hi = [{ role: "user", content: "hi" }];

describe("the chat-completions body", () => {
  it("refuses with 400 naming the parameter: unsupported values, unknown fields, bad fields", () => {
    expect(refusal({ messages: hi, n: 2 })).toMatchObject({ status: 400, param: "n", code: "unsupported_parameter" });
    expect(refusal({ messages: hi, logprobs: true }).param).toBe("logprobs");
    expect(refusal({ messages: hi, functions: [{ name: "f" }] }).param).toBe("functions");
    expect(refusal({ messages: hi, service_tier: "priority" }).param).toBe("service_tier");
    expect(refusal({ messages: hi, frobnicate: 1 })).toMatchObject({
      status: 400,
      param: "frobnicate",
      message: "Unrecognized request argument supplied: frobnicate",
    });
    expect(refusal({ messages: [{ role: "user", content: "x", name: "bob" }] }).param).toBe("messages.0.name");
    expect(refusal({ messages: [{ role: "wizard", content: "hi" }] }).param).toBe("messages.0.role");
    expect(refusal({ messages: [{ role: "user", content: [{ type: "input_audio", input_audio: {} }] }] }).param).toMatch(
      /^messages\.0\.content/,
    );
    expect(refusal({ messages: [{ role: "tool", content: "42" }] }).param).toBe("messages.0.tool_call_id");
    expect(refusal({ messages: hi, tool_choice: "required" }).param).toBe("tool_choice");
    expect(refusal({ messages: hi, stream_options: { include_usage: true } }).param).toBe("stream_options");
    expect(refusal({ messages: hi, stop: ["a", "b", "c", "d", "e"] }).param).toBe("stop");
    expect(refusal("[1]").status).toBe(400);
  });

  it("accepts the neutral value of what it does not serve, and null as left out", () => {
    const body = parseChatBody(
      JSON.stringify({ messages: hi, n: 1, logprobs: false, top_p: 1, store: false, service_tier: "auto", user: null, seed: null }),
    );
    expect(body.messages).toHaveLength(1);
  });

  it("maps tools, tool choice, tool round trips, image parts, json_schema, stop, seed and include_usage", () => {
    const body = parseChatBody(
      JSON.stringify({
        model: "auto",
        messages: [
          {
            role: "developer",
            content: [
              { type: "text", text: "Be " },
              { type: "text", text: "brief." },
            ],
          },
          {
            role: "user",
            content: [
              { type: "text", text: "What is it?" },
              { type: "image_url", image_url: { url: "https://example.com/a.png", detail: "low" } },
            ],
          },
          {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "look", arguments: '{"x":1}' } }],
          },
          { role: "tool", content: "a cat", tool_call_id: "call_1" },
        ],
        tools: [{ type: "function", function: { name: "look", parameters: { type: "object" }, strict: true } }],
        tool_choice: { type: "function", function: { name: "look" } },
        parallel_tool_calls: false,
        response_format: { type: "json_schema", json_schema: { name: "answer", schema: { type: "object" }, strict: true } },
        stop: "END",
        seed: 42,
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    const input = toInput(body, undefined, undefined);
    expect(input.messages.map((m) => [m.role, m.content])).toEqual([
      ["system", "Be brief."],
      ["user", "What is it?"],
      ["assistant", ""],
      ["tool", "a cat"],
    ]);
    expect(input.messages[0]!.parts).toEqual([]);
    expect(input.messages[1]!.parts.map((p) => p.part.case)).toEqual(["text", "imageUrl"]);
    expect(input.messages[2]!.toolCalls).toMatchObject([{ id: "call_1", name: "look", argumentsJson: '{"x":1}' }]);
    expect(input.messages[3]!.toolCallId).toBe("call_1");
    expect(input.tools).toMatchObject([{ name: "look", parametersJson: '{"type":"object"}', strict: true }]);
    expect(input.toolChoice).toMatchObject({ mode: "function", functionName: "look" });
    expect(input.parallelToolCalls).toBe(false);
    expect(input.jsonMode).toBe(false);
    expect(input.jsonSchema).toMatchObject({ name: "answer", schemaJson: '{"type":"object"}', strict: true });
    expect(input.stop).toEqual(["END"]);
    expect(input.seed).toBe(42n);
    expect(input.includeUsage).toBe(true);
  });
});

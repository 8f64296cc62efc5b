import { withAssistantPrefix } from "./assistant-prefix.js";
import type { ContentPart, ProviderMessage, ProviderRequest, ToolChoice } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { parseJsonText } from "./json-text.js";

type Block = Record<string, unknown>;
interface WireMessage {
  role: "user" | "assistant";
  content: string | Block[];
}

/** Name of the tool a JSON schema answer is asked for through (see `answerTool`). */
export const ANSWER_TOOL = "json_answer";

/**
 * The Messages request body. System messages move to the top-level `system` string, joined by
 * blank lines; user and assistant messages keep their order. Content parts become text and
 * image blocks (a base64 data URL as a base64 source, an http(s) URL as a url source), an
 * assistant's tool calls `tool_use` blocks, and tool messages `tool_result` blocks in a user
 * turn (the results of parallel calls together in one). A JSON schema answer is asked for as
 * a call of one tool whose input schema is that schema, which the model must call (the adapter
 * returns its input as the answer's text); Anthropic has no seed, so none is sent.
 */
export function anthropicBody(name: string, request: ProviderRequest): string {
  const system: string[] = [];
  const messages: WireMessage[] = [];
  const prefix = request.assistantPrefix?.trimEnd();
  if (prefix && request.jsonSchema)
    throw new ProviderError("client", `${name}: an answer to a JSON schema cannot be continued from a prefix`);
  for (const m of prefix ? withAssistantPrefix(request.messages, prefix) : request.messages) {
    if (m.role === "system") system.push(m.content);
    else if (m.role === "user")
      messages.push({ role: "user", content: m.parts && m.parts.length > 0 ? m.parts.map((p) => partBlock(name, p)) : m.content });
    else if (m.role === "assistant") messages.push({ role: "assistant", content: assistantContent(name, m) });
    else if (m.role === "tool") toolResult(messages, m);
    else
      throw new ProviderError(
        "client",
        `${name}: message role "${m.role}" has no Anthropic equivalent (expected system, user, assistant or tool)`,
      );
  }
  // The Messages API has no JSON mode; ask for it in the system prompt instead.
  if (request.jsonMode && !request.jsonSchema) system.push("Respond with a single JSON object and nothing else.");
  return JSON.stringify({
    model: request.model,
    max_tokens: request.maxTokens,
    messages,
    ...(system.length > 0 ? { system: system.join("\n\n") } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.stop && request.stop.length > 0 ? { stop_sequences: request.stop } : {}),
    ...(request.user ? { metadata: { user_id: request.user } } : {}),
    ...toolsOf(name, request),
    stream: true,
  });
}

function partBlock(name: string, p: ContentPart): Block {
  if (p.type === "text") return { type: "text", text: p.text };
  const data = /^data:([^;,]+);base64,(.*)$/s.exec(p.url);
  if (data) return { type: "image", source: { type: "base64", media_type: data[1], data: data[2] } };
  if (/^https?:\/\//i.test(p.url)) return { type: "image", source: { type: "url", url: p.url } };
  throw new ProviderError("client", `${name}: image URL must be http(s) or a base64 data URL`);
}

function assistantContent(name: string, m: ProviderMessage): string | Block[] {
  const calls = m.toolCalls ?? [];
  if (calls.length === 0) return m.content;
  const blocks: Block[] = m.content === "" ? [] : [{ type: "text", text: m.content }];
  for (const c of calls)
    blocks.push({
      type: "tool_use",
      id: c.id,
      name: c.name,
      input: parseJsonText(name, `tool call ${c.id} arguments`, c.arguments || "{}"),
    });
  return blocks;
}

/** A tool message as a tool_result block, in the user turn of the results before it when there is one. */
function toolResult(messages: WireMessage[], m: ProviderMessage): void {
  const block = { type: "tool_result", tool_use_id: m.toolCallId ?? "", content: m.content };
  const last = messages.at(-1);
  if (last?.role === "user" && Array.isArray(last.content) && last.content.every((b) => b["type"] === "tool_result"))
    last.content.push(block);
  else messages.push({ role: "user", content: [block] });
}

function toolsOf(name: string, request: ProviderRequest): object {
  const tools = request.tools ?? [];
  const schema = request.jsonSchema;
  if (schema) {
    if (tools.length > 0)
      throw new ProviderError("client", `${name}: response_format json_schema together with tools cannot be served by an Anthropic model`);
    const input = parseJsonText(name, "response_format.json_schema.schema", schema.schema);
    if (typeof input !== "object" || input === null || (input as Block)["type"] !== "object") {
      throw new ProviderError("client", `${name}: response_format json_schema must describe an object to be served by an Anthropic model`);
    }
    const description = schema.description || `Give the answer${schema.name ? ` (${schema.name})` : ""} as this tool's input.`;
    return { tools: [{ name: ANSWER_TOOL, description, input_schema: input }], tool_choice: { type: "tool", name: ANSWER_TOOL } };
  }
  if (tools.length === 0) return {};
  return {
    tools: tools.map((t) => ({
      name: t.name,
      ...(t.description ? { description: t.description } : {}),
      input_schema: t.parameters ? parseJsonText(name, `tools.${t.name}.parameters`, t.parameters) : { type: "object", properties: {} },
    })),
    ...(request.toolChoice || request.parallelToolCalls === false
      ? { tool_choice: toolChoiceOf(request.toolChoice, request.parallelToolCalls) }
      : {}),
  };
}

function toolChoiceOf(choice: ToolChoice | undefined, parallel: boolean | undefined): object {
  const mode = choice?.mode ?? "auto";
  if (mode === "none") return { type: "none" };
  const one = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (mode === "required") return { type: "any", ...one };
  if (mode === "function") return { type: "tool", name: choice!.functionName, ...one };
  return { type: "auto", ...one };
}

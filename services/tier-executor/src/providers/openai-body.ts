import type { ProviderConfig } from "@tiermesh/config";
import { withAssistantPrefix } from "./assistant-prefix.js";
import type { ContentPart, ProviderMessage, ProviderRequest, ToolChoice } from "./provider-adapter.js";
import { ProviderError } from "./provider-error.js";
import { parseJsonText } from "./json-text.js";

/**
 * The chat-completions request body for an OpenAI-compatible server: the request's messages
 * (content parts, tool calls and tool results in OpenAI's own shape), ending with the assistant
 * prefix in the form the provider continues, and every option the request sets. Always streamed,
 * with usage.
 */
export function openAIBody(name: string, continuation: ProviderConfig["continuation"], request: ProviderRequest): string {
  const tools = request.tools ?? [];
  return JSON.stringify({
    model: request.model,
    messages: messagesOf(name, continuation, request).map(wireMessage),
    ...(request.assistantPrefix && continuation === "continue_final_message"
      ? { continue_final_message: true, add_generation_prompt: false }
      : {}),
    max_tokens: request.maxTokens,
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.jsonSchema
      ? {
          response_format: {
            type: "json_schema",
            json_schema: {
              name: request.jsonSchema.name,
              ...(request.jsonSchema.description ? { description: request.jsonSchema.description } : {}),
              schema: parseJsonText(name, "response_format.json_schema.schema", request.jsonSchema.schema),
              strict: request.jsonSchema.strict,
            },
          },
        }
      : request.jsonMode
        ? { response_format: { type: "json_object" } }
        : {}),
    ...(tools.length > 0
      ? {
          tools: tools.map((t) => ({
            type: "function",
            function: {
              name: t.name,
              ...(t.description ? { description: t.description } : {}),
              ...(t.parameters ? { parameters: parseJsonText(name, `tools.${t.name}.parameters`, t.parameters) } : {}),
              ...(t.strict ? { strict: true } : {}),
            },
          })),
        }
      : {}),
    ...(request.toolChoice ? { tool_choice: toolChoiceOf(request.toolChoice) } : {}),
    ...(tools.length > 0 && request.parallelToolCalls !== undefined ? { parallel_tool_calls: request.parallelToolCalls } : {}),
    ...(request.stop && request.stop.length > 0 ? { stop: request.stop } : {}),
    ...(request.seed !== undefined ? { seed: request.seed } : {}),
    ...(request.user ? { user: request.user } : {}),
    stream: true,
    stream_options: { include_usage: true },
  });
}

/** The request's messages, ending with its assistant prefix in the form the provider continues. */
function messagesOf(
  name: string,
  continuation: ProviderConfig["continuation"],
  request: ProviderRequest,
): readonly (ProviderMessage & { prefix?: boolean })[] {
  const prefix = request.assistantPrefix;
  if (!prefix) return request.messages;
  if (continuation === "none")
    throw new ProviderError("client", `${name}: this provider does not continue an assistant prefix (continuation: none)`);
  const messages = withAssistantPrefix(request.messages, prefix);
  if (continuation !== "prefix_flag") return messages;
  return messages.map((m, i) => (i === messages.length - 1 ? { ...m, prefix: true } : m));
}

function wireMessage(m: ProviderMessage & { prefix?: boolean }): object {
  const calls = m.toolCalls ?? [];
  return {
    role: m.role,
    // An assistant turn made only of tool calls has null content, as OpenAI sends it.
    content: m.parts && m.parts.length > 0 ? m.parts.map(wirePart) : calls.length > 0 && m.content === "" ? null : m.content,
    ...(calls.length > 0
      ? { tool_calls: calls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    ...(m.toolCallId ? { tool_call_id: m.toolCallId } : {}),
    ...(m.prefix ? { prefix: true } : {}),
  };
}

function wirePart(p: ContentPart): object {
  if (p.type === "text") return { type: "text", text: p.text };
  return { type: "image_url", image_url: { url: p.url, ...(p.detail ? { detail: p.detail } : {}) } };
}

function toolChoiceOf(choice: ToolChoice): string | object {
  return choice.mode === "function" ? { type: "function", function: { name: choice.functionName } } : choice.mode;
}

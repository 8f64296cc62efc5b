import type { CompleteResponse, ToolCall } from "@tiermesh/proto";

/** OpenAI's usage object. */
export const usageOf = (r: CompleteResponse) => ({
  prompt_tokens: r.usage?.promptTokens ?? 0,
  completion_tokens: r.usage?.completionTokens ?? 0,
  total_tokens: r.usage?.totalTokens ?? 0,
});

/** tiermesh's own part of a response: where it was served and why. */
export const extensionOf = (r: CompleteResponse) => ({
  requested_tier: r.routing?.requestedTier,
  served_tier: r.routing?.servedTier,
  reasons: r.routing?.reasons,
  rule_ids: r.routing?.ruleIds,
  continuations: r.routing?.continuations,
  usage_estimated: r.usage?.estimated,
  provider: r.provider,
  cost_usd: r.costUsd,
});

const wireToolCall = (c: ToolCall) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.argumentsJson } });

/** A unary answer as OpenAI's `chat.completion`. */
export function completionBody(r: CompleteResponse, created: number): object {
  const calls = r.toolCalls;
  return {
    id: `chatcmpl-${r.id}`,
    object: "chat.completion",
    created,
    model: r.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          // A turn made only of tool calls has null content, as OpenAI gives it.
          content: calls.length > 0 && r.content === "" ? null : r.content,
          refusal: null,
          ...(calls.length > 0 ? { tool_calls: calls.map(wireToolCall) } : {}),
        },
        logprobs: null,
        finish_reason: r.finishReason,
      },
    ],
    usage: usageOf(r),
    tiermesh: extensionOf(r),
  };
}

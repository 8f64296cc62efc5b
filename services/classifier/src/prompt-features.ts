import type { CompletionInput } from "@tiermesh/proto";

/** What the rules may look at, computed once per request. */
export interface PromptFeatures {
  promptTokens: number;
  maxTokens: number;
  model: string;
}

/** Tokens per message for role and separators, as chat formats add them. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/**
 * Prompt size in tokens. An estimate of 4 characters per token keeps this O(length)
 * with no allocation; it is what the tier rules and size limits are checked against.
 */
export function promptFeatures(input: CompletionInput | undefined): PromptFeatures {
  let chars = 0;
  const messages = input?.messages ?? [];
  for (const m of messages) chars += m.content.length;
  return {
    promptTokens: Math.ceil(chars / 4) + messages.length * MESSAGE_OVERHEAD_TOKENS,
    maxTokens: input?.maxTokens ?? 0,
    model: input?.model ?? "",
  };
}

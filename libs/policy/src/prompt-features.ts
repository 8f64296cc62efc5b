import type { CompletionInput } from "@tiermesh/proto";
import type { TokenCounter } from "./token-counter.js";

/** What the rules may look at, computed once per request. */
export interface PromptFeatures {
  /** Prompt tokens; when `promptTokensExact` is false, only known to be above the counting limit. */
  promptTokens: number;
  promptTokensExact: boolean;
  maxTokens: number;
  model: string;
  hasTools: boolean;
  jsonMode: boolean;
  /** Time left for the request, ms; 0 when the caller gave no deadline. */
  deadlineMs: number;
}

export function promptFeatures(input: CompletionInput, deadlineMs: number, counter: TokenCounter, countLimit: number): PromptFeatures {
  const counted = counter.count(
    input.messages.map((m) => m.content),
    countLimit,
  );
  return {
    promptTokens: counted.tokens,
    promptTokensExact: counted.exact,
    maxTokens: input.maxTokens,
    model: input.model,
    hasTools: input.tools.length > 0,
    jsonMode: input.jsonMode,
    deadlineMs,
  };
}

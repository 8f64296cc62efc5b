import { contextOverhead, smallestWindow, type TierConfig } from "@tiermesh/config";
import { TokenCounter } from "@tiermesh/policy";
import type { CompletionInput } from "@tiermesh/proto";
import { estimatePromptTokens } from "./cost.js";

/** Only its byte bound is used here: no tokenizer tables, no cache. */
const bounds = new TokenCounter();

/**
 * Tokens a request needs of a deployment's context window in this tier: its messages, the
 * tier's system prompt and the completion tokens the tier will ask for (the router does the
 * same arithmetic, so both agree on what fits). The messages are the classifier's count when
 * the router passed one; otherwise their byte length, an upper bound, when that already fits
 * every deployment; otherwise counted here. 0 when no deployment of the tier declares a window.
 */
export function requestContextTokens(
  tier: TierConfig,
  tierName: string,
  request: { input: CompletionInput; tenant: string; promptTokens?: number | undefined },
): number {
  const smallest = smallestWindow(tier);
  if (smallest === undefined) return 0;
  const overhead = contextOverhead(tier, { askedMaxTokens: request.input.maxTokens, tierName, tenant: request.tenant }).total;
  if (request.promptTokens && request.promptTokens > 0) return request.promptTokens + overhead;
  const bound = bounds.bound(request.input.messages.map((m) => m.content)) + overhead;
  if (bound <= smallest) return bound;
  return estimatePromptTokens(request.input.messages) + overhead;
}

import { contextNeed, type TierConfig } from "@tiermesh/config";
import type { CompletionInput } from "@tiermesh/proto";
import { estimatePromptTokens } from "./cost.js";

/**
 * Tokens a request needs of a deployment's context window in this tier: its messages (the
 * classifier's count when the router passed one, else counted here with the same tokenizer),
 * the tier's system prompt and the completion tokens the tier will ask for. The router does
 * the same arithmetic (`contextNeed`), so both agree on what fits. 0 when no deployment of the
 * tier declares a window.
 */
export function requestContextTokens(
  tier: TierConfig,
  tierName: string,
  request: { input: CompletionInput; tenant: string; promptTokens?: number | undefined },
): number {
  // Nothing declares a window: nothing to decide, and nothing to count.
  if (tier.models.every((m) => m.context_window === undefined)) return 0;
  const messageTokens = request.promptTokens && request.promptTokens > 0 ? request.promptTokens : estimatePromptTokens(request.input.messages);
  return contextNeed(tier, { messageTokens, askedMaxTokens: request.input.maxTokens, tierName, tenant: request.tenant }).total;
}

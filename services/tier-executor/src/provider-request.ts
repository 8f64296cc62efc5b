import type { TierConfig } from "@tiermesh/config";
import type { CompletionInput } from "@tiermesh/proto";
import { estimateTokens } from "./cost.js";
import type { ProviderMessage, ProviderRequest } from "./providers/provider-adapter.js";
import { cacheKey } from "./response-cache.js";

/**
 * What the tier sends a provider for one request (without the deployment's model): the
 * tier's system prompt ({{tier}} and {{tenant}} replaced) first (not for probes: a probe is
 * the smallest request the provider accepts), the caller's messages, the caller's max_tokens
 * or the tier's default under the tier's cap, and the assistant prefix of an answer being
 * continued (whose tokens then come off max_tokens: the whole answer keeps to the limit).
 */
export function providerRequestOf(
  tierName: string,
  tier: TierConfig,
  r: { input: CompletionInput; tenant: string; probe: boolean; assistantPrefix?: string | undefined },
): ProviderRequest {
  const { prompt } = tier;
  const { input } = r;
  const messages: ProviderMessage[] = input.messages.map((m) => ({ role: m.role, content: m.content }));
  if (prompt.system !== undefined && !r.probe) {
    const system = prompt.system.replaceAll("{{tier}}", tierName).replaceAll("{{tenant}}", r.tenant);
    messages.unshift({ role: "system", content: system });
  }
  const asked = input.maxTokens > 0 ? input.maxTokens : prompt.default_max_tokens;
  return {
    model: "",
    messages,
    maxTokens: leftAfter(Math.min(asked, prompt.max_tokens_cap), r.assistantPrefix ?? ""),
    temperature: input.temperature,
    jsonMode: input.jsonMode,
    ...(r.assistantPrefix ? { assistantPrefix: r.assistantPrefix } : {}),
    ...(r.probe ? { probe: true } : {}),
  };
}

/** The response-cache key of a provider request within a tier. */
export function cacheKeyOf(tierName: string, r: ProviderRequest): string {
  return cacheKey({ tier: tierName, messages: r.messages, maxTokens: r.maxTokens, jsonMode: r.jsonMode ?? false });
}

/** Completion tokens left of `maxTokens` once `delivered` is part of the answer (at least 1). */
export function leftAfter(maxTokens: number, delivered: string): number {
  return delivered === "" ? maxTokens : Math.max(1, maxTokens - estimateTokens(delivered));
}

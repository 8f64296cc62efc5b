import type { TierConfig } from "@tiermesh/config";
import type { ChatMessage, CompletionInput } from "@tiermesh/proto";
import { estimateTokens } from "./cost.js";
import type { ContentPart, ProviderMessage, ProviderRequest, ToolChoice } from "./providers/provider-adapter.js";
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
  const messages: ProviderMessage[] = input.messages.map(providerMessage);
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
    ...(input.jsonSchema
      ? {
          jsonSchema: {
            name: input.jsonSchema.name,
            description: input.jsonSchema.description,
            schema: input.jsonSchema.schemaJson,
            strict: input.jsonSchema.strict,
          },
        }
      : {}),
    ...(input.tools.length > 0
      ? { tools: input.tools.map((t) => ({ name: t.name, description: t.description, parameters: t.parametersJson, strict: t.strict })) }
      : {}),
    ...(input.toolChoice
      ? { toolChoice: { mode: input.toolChoice.mode as ToolChoice["mode"], functionName: input.toolChoice.functionName } }
      : {}),
    ...(input.parallelToolCalls !== undefined ? { parallelToolCalls: input.parallelToolCalls } : {}),
    ...(input.stop.length > 0 ? { stop: input.stop } : {}),
    ...(input.seed !== undefined ? { seed: Number(input.seed) } : {}),
    ...(input.user ? { user: input.user } : {}),
    ...(r.assistantPrefix ? { assistantPrefix: r.assistantPrefix } : {}),
    ...(r.probe ? { probe: true } : {}),
  };
}

/** A caller's message as a provider is sent it. */
function providerMessage(m: ChatMessage): ProviderMessage {
  const parts = m.parts.map(
    (p): ContentPart =>
      p.part.case === "imageUrl"
        ? { type: "image", url: p.part.value.url, detail: p.part.value.detail }
        : { type: "text", text: p.part.value ?? "" },
  );
  return {
    role: m.role,
    content: m.content,
    ...(parts.length > 0 ? { parts } : {}),
    ...(m.toolCalls.length > 0 ? { toolCalls: m.toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.argumentsJson })) } : {}),
    ...(m.toolCallId ? { toolCallId: m.toolCallId } : {}),
  };
}

/**
 * The response-cache key of a provider request within a tier: everything that shapes the
 * answer (messages with their parts, tool calls and results; tools and tool choice; output
 * format; stop sequences; seed), so different requests never share one. The end user does not
 * shape it.
 */
export function cacheKeyOf(tierName: string, r: ProviderRequest): string {
  return cacheKey({
    tier: tierName,
    messages: r.messages,
    maxTokens: r.maxTokens,
    jsonMode: r.jsonMode ?? false,
    jsonSchema: r.jsonSchema,
    tools: r.tools,
    toolChoice: r.toolChoice,
    parallelToolCalls: r.parallelToolCalls,
    stop: r.stop,
    seed: r.seed,
  });
}

/** Completion tokens left of `maxTokens` once `delivered` is part of the answer (at least 1). */
export function leftAfter(maxTokens: number, delivered: string): number {
  return delivered === "" ? maxTokens : Math.max(1, maxTokens - estimateTokens(delivered));
}

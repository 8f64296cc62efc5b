import type { DeploymentConfig } from "@tiermesh/config";
import { o200k } from "@tiermesh/policy";
import type { ProviderMessage } from "./providers/provider-adapter.js";

/** US dollars for the given token counts at a deployment's price. */
export function costUsd(price: DeploymentConfig["price"], promptTokens: number, completionTokens: number): number {
  return (promptTokens * price.input_per_mtok + completionTokens * price.output_per_mtok) / 1_000_000;
}

/**
 * Token estimate used only when a provider reports no usage: counted with the o200k_base
 * tokenizer, which matches OpenAI's current models and is close for others.
 */
export function estimateTokens(text: string): number {
  return text.length === 0 ? 0 : o200k().countTokens(text);
}

export function estimatePromptTokens(messages: readonly Pick<ProviderMessage, "content">[]): number {
  let tokens = 0;
  for (const m of messages) tokens += estimateTokens(m.content) + 4;
  return tokens;
}

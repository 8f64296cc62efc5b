import type { DeploymentConfig } from "@tiermesh/config";
import type { ProviderMessage } from "./providers/provider-adapter.js";

/** US dollars for the given token counts at a deployment's price. */
export function costUsd(price: DeploymentConfig["price"], promptTokens: number, completionTokens: number): number {
  return (promptTokens * price.input_per_mtok + completionTokens * price.output_per_mtok) / 1_000_000;
}

/** Token estimate used when a provider reports no usage: about four characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function estimatePromptTokens(messages: readonly ProviderMessage[]): number {
  let tokens = 0;
  for (const m of messages) tokens += estimateTokens(m.content) + 4;
  return tokens;
}

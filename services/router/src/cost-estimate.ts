import type { Config, TierLadder } from "@tiermesh/config";

/**
 * A request's cost at most, for reserving budget before it runs: its prompt and output tokens
 * (max_tokens, or `fallbackOutputTokens` when the caller set none) at the highest price of any
 * model it could be served by (every tier up to `maxTier`, promotions included).
 */
export function estimateCostUsd(tiers: Config["tiers"], ladder: TierLadder, maxTier: string, promptTokens: number, outputTokens: number): number {
  let input = 0;
  let output = 0;
  for (const [name, tier] of Object.entries(tiers)) {
    if (ladder.above(name, maxTier)) continue;
    for (const m of tier.models) {
      input = Math.max(input, m.price.input_per_mtok);
      output = Math.max(output, m.price.output_per_mtok);
    }
  }
  return (promptTokens * input + outputTokens * output) / 1_000_000;
}

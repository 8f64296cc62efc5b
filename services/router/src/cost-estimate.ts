import { completionTokens, systemPrompt, type Config, type TierLadder } from "@tiermesh/config";

/** Tokens a chat message adds beyond its text (role, separators); as the token counter counts them. */
const MESSAGE_OVERHEAD_TOKENS = 4;

/**
 * A request's cost at most, for reserving budget before it runs: on every tier it could reach
 * (up to `maxTier`, promotions included) at the tier's dearest model, its prompt (`promptBound`,
 * an upper bound of its tokens), the tier's system prompt (a token is at least a byte) and the
 * completion tokens the tier asks for (the caller's max_tokens within the tier's cap, or the
 * tier's default): the largest of those.
 */
export function estimateCostUsd(
  tiers: Config["tiers"],
  ladder: TierLadder,
  maxTier: string,
  tenant: string,
  promptBound: number,
  askedMaxTokens: number,
): number {
  let most = 0;
  for (const [name, tier] of Object.entries(tiers)) {
    if (ladder.above(name, maxTier)) continue;
    const system = systemPrompt(tier, name, tenant);
    const input = promptBound + (system === undefined ? 0 : Buffer.byteLength(system, "utf8") + MESSAGE_OVERHEAD_TOKENS);
    const output = completionTokens(tier, askedMaxTokens);
    for (const m of tier.models) most = Math.max(most, (input * m.price.input_per_mtok + output * m.price.output_per_mtok) / 1_000_000);
  }
  return most;
}

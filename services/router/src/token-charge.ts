import type { TierConfig } from "@tiermesh/config";

/**
 * Tokens a request is charged against its tenant's tokens per minute, when it is admitted:
 * its prompt as the classifier counts it (o200k_base, the caller's messages) plus the
 * completion tokens it may produce: the caller's max_tokens (at most what its tier asks a
 * provider for, `prompt.max_tokens_cap`), else the limits' `output_tokens_estimate`, else
 * the tier's `prompt.default_max_tokens`. The tier's own system prompt is not the caller's
 * and is not charged. Nothing is refunded when the answer is shorter (as OpenAI counts).
 */
export function chargedTokens(tier: TierConfig | undefined, promptTokens: number, askedMaxTokens: number, outputEstimate: number | undefined): number {
  const cap = tier?.prompt.max_tokens_cap ?? Number.POSITIVE_INFINITY;
  const output = askedMaxTokens > 0 ? Math.min(askedMaxTokens, cap) : (outputEstimate ?? tier?.prompt.default_max_tokens ?? 0);
  return promptTokens + output;
}

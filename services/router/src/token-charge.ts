import type { TierConfig } from "@tiermesh/config";

/** Tokens charged per message for its role and framing (as the exact count adds). */
const MESSAGE_OVERHEAD_TOKENS = 4;

/**
 * The prompt's tokens for rate limiting, estimated from its size as OpenAI's rate limiter does
 * (about four bytes a token for English; UTF-8 bytes, so scripts with more bytes a character
 * count more), never with the tokenizer: an admission check must cost microseconds and must
 * not load 70 MB into a router.
 */
export function estimatedPromptTokens(contents: readonly string[]): number {
  let bytes = 0;
  for (const text of contents) bytes += Buffer.byteLength(text, "utf8");
  return Math.ceil(bytes / 4) + contents.length * MESSAGE_OVERHEAD_TOKENS;
}

/**
 * Tokens a request is charged against its tenant's tokens per minute, when it is admitted:
 * its prompt (`estimatedPromptTokens` of the caller's messages) plus the
 * completion tokens it may produce: the caller's max_tokens (at most what its tier asks a
 * provider for, `prompt.max_tokens_cap`), else the limits' `output_tokens_estimate`, else
 * the tier's `prompt.default_max_tokens`. The tier's own system prompt is not the caller's
 * and is not charged. Nothing is refunded when the answer is shorter (as OpenAI counts).
 */
export function chargedTokens(
  tier: TierConfig | undefined,
  promptTokens: number,
  askedMaxTokens: number,
  outputEstimate: number | undefined,
): number {
  const cap = tier?.prompt.max_tokens_cap ?? Number.POSITIVE_INFINITY;
  const output = askedMaxTokens > 0 ? Math.min(askedMaxTokens, cap) : (outputEstimate ?? tier?.prompt.default_max_tokens ?? 0);
  return promptTokens + output;
}

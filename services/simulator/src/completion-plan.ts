import { randomUUID } from "node:crypto";
import { requestedTokenCap, type ChatCompletionRequest } from "./chat-completion-request.js";
import type { ModelProfile } from "./simulator-config.js";

const WORDS = [
  "the", "router", "keeps", "each", "tier", "within", "its", "latency", "budget", "while",
  "tokens", "stream", "steadily", "from", "a", "simulated", "model", "that", "answers", "requests",
] as const;

export type FinishReason = "stop" | "length";

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** Everything about one completion that is decided before the first byte is sent. */
export interface CompletionPlan {
  id: string;
  created: number;
  model: string;
  /** One entry per token; concatenated they form the message content. */
  tokens: string[];
  finishReason: FinishReason;
  usage: Usage;
  /** For streams: number of tokens sent before the socket is destroyed, or null. */
  cutAfterTokens: number | null;
}

/** Prompt size estimate: ceil(total content chars / 4) + 4 per message. */
export function estimatePromptTokens(messages: readonly { content: string }[]): number {
  const chars = messages.reduce((sum, message) => sum + message.content.length, 0);
  return Math.ceil(chars / 4) + 4 * messages.length;
}

/** `count` words from a fixed list, each one token; the first has no leading space. */
export function completionTokens(count: number): string[] {
  return Array.from({ length: count }, (_, i) => {
    const word = WORDS[i % WORDS.length] ?? "token";
    return i === 0 ? word : ` ${word}`;
  });
}

function naturalLength(profile: ModelProfile, random: () => number): number {
  const { min, max } = profile.output_tokens;
  return Math.min(max, min + Math.floor(random() * (max - min + 1)));
}

export function planCompletion(
  request: ChatCompletionRequest,
  profile: ModelProfile,
  random: () => number,
): CompletionPlan {
  const natural = naturalLength(profile, random);
  const cap = requestedTokenCap(request);
  const capped = cap !== undefined && cap < natural;
  const count = capped ? cap : natural;
  const promptTokens = estimatePromptTokens(request.messages);
  const cut =
    request.stream === true && profile.stream_cut_rate > 0 && random() < profile.stream_cut_rate;
  return {
    id: `chatcmpl-${randomUUID().replaceAll("-", "")}`,
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    tokens: completionTokens(count),
    finishReason: capped ? "length" : "stop",
    usage: { prompt_tokens: promptTokens, completion_tokens: count, total_tokens: promptTokens + count },
    cutAfterTokens: cut ? Math.floor(count / 2) : null,
  };
}

import { randomUUID } from "node:crypto";
import { requestedTokenCap, type ChatCompletionRequest } from "./chat-completion-request.js";
import type { ModelProfile } from "./simulator-config.js";
import { planToolCalls, type PlannedToolCall } from "./tool-call-plan.js";

const WORDS = [
  "the",
  "router",
  "keeps",
  "each",
  "tier",
  "within",
  "its",
  "latency",
  "budget",
  "while",
  "tokens",
  "stream",
  "steadily",
  "from",
  "a",
  "simulated",
  "model",
  "that",
  "answers",
  "requests",
] as const;

export type FinishReason = "stop" | "length" | "tool_calls";

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
  /** One entry per token; concatenated they form the message content (empty when calling tools). */
  tokens: string[];
  /** The tool calls the answer is made of, instead of text (see planToolCalls). */
  toolCalls: PlannedToolCall[];
  finishReason: FinishReason;
  usage: Usage;
  /** For streams: a fault injected after `afterTokens` stream pieces (tokens, or tool call pieces), or null. */
  fault: { kind: StreamFault; afterTokens: number } | null;
  /** For streams: end after the finish (and usage) chunk without `data: [DONE]`. */
  omitDone: boolean;
}

/** `cut`: the socket is destroyed; `stall`: nothing more is sent, the connection stays open; `malformed`: one unreadable chunk. */
export type StreamFault = "cut" | "stall" | "malformed";

/** Prompt size estimate: ceil(total content chars / 4) + 4 per message. */
export function estimatePromptTokens(messages: readonly { content: string }[]): number {
  const chars = messages.reduce((sum, message) => sum + message.content.length, 0);
  return Math.ceil(chars / 4) + 4 * messages.length;
}

/**
 * `count` words from a fixed list, each one token, from the `start`-th word on; each has a
 * leading space except the very first word of an answer (or when `leadingSpace` is false).
 */
export function completionTokens(count: number, start = 0, leadingSpace = start > 0): string[] {
  return Array.from({ length: count }, (_, i) => {
    const word = WORDS[(start + i) % WORDS.length] ?? "token";
    return i === 0 && !leadingSpace ? word : ` ${word}`;
  });
}

/**
 * The assistant prefix a request asks to continue (its last message, when that is the
 * assistant's), or undefined.
 */
export function assistantPrefix(request: ChatCompletionRequest): string | undefined {
  const last = request.messages.at(-1);
  return last?.role === "assistant" ? last.content : undefined;
}

/** Continuing `prefix`: the answer goes on from the word after its last one, with no gap or repeat. */
function continuation(prefix: string, count: number): string[] {
  const words = prefix.split(/\s+/).filter((w) => w !== "").length;
  return completionTokens(count, words, prefix !== "" && !/\s$/.test(prefix));
}

function streamFault(request: ChatCompletionRequest, profile: ModelProfile, count: number, random: () => number): CompletionPlan["fault"] {
  if (request.stream !== true) return null;
  const hit = (rate: number): boolean => rate > 0 && random() < rate;
  const kind: StreamFault | undefined = hit(profile.stream_cut_rate)
    ? "cut"
    : hit(profile.stream_stall_rate)
      ? "stall"
      : hit(profile.malformed_chunk_rate)
        ? "malformed"
        : undefined;
  if (kind === undefined) return null;
  return { kind, afterTokens: Math.min(count, profile.fault_after_tokens ?? Math.floor(count / 2)) };
}

function naturalLength(profile: ModelProfile, random: () => number): number {
  const { min, max } = profile.output_tokens;
  return Math.min(max, min + Math.floor(random() * (max - min + 1)));
}

export function planCompletion(request: ChatCompletionRequest, profile: ModelProfile, random: () => number): CompletionPlan {
  const id = randomUUID().replaceAll("-", "");
  const promptTokens = estimatePromptTokens(request.messages);
  const omitDone = request.stream === true && profile.missing_done_rate > 0 && random() < profile.missing_done_rate;
  const toolCalls = planToolCalls(request, profile, id.slice(0, 12));
  const base = { id: `chatcmpl-${id}`, created: Math.floor(Date.now() / 1000), model: request.model, omitDone };
  if (toolCalls.length > 0) {
    // A piece per call for its name, then its argument pieces; about four characters a token.
    const pieces = toolCalls.reduce((n, c) => n + 1 + c.pieces.length, 0);
    const count = toolCalls.reduce((n, c) => n + Math.ceil((c.name.length + c.arguments.length) / 4), 0);
    const usage = { prompt_tokens: promptTokens, completion_tokens: count, total_tokens: promptTokens + count };
    return { ...base, tokens: [], toolCalls, finishReason: "tool_calls", usage, fault: streamFault(request, profile, pieces, random) };
  }
  const natural = naturalLength(profile, random);
  const cap = requestedTokenCap(request);
  const capped = cap !== undefined && cap < natural;
  const count = capped ? cap : natural;
  const prefix = assistantPrefix(request);
  return {
    ...base,
    tokens: prefix === undefined ? completionTokens(count) : continuation(prefix, count),
    toolCalls: [],
    finishReason: capped ? "length" : "stop",
    usage: { prompt_tokens: promptTokens, completion_tokens: count, total_tokens: promptTokens + count },
    fault: streamFault(request, profile, count, random),
  };
}

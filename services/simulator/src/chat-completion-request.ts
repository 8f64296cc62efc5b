import { z } from "zod";

// Unknown top-level fields (top_p, seed, user, tools, ...) are accepted and
// ignored, as real clients send many of them; the ones we use are validated.
const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.string(),
});

export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
});

export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;

/** The tightest of `max_tokens` / `max_completion_tokens`, if either is set. */
export function requestedTokenCap(request: ChatCompletionRequest): number | undefined {
  const caps = [request.max_tokens, request.max_completion_tokens].filter(
    (cap): cap is number => typeof cap === "number",
  );
  return caps.length === 0 ? undefined : Math.min(...caps);
}

import { z } from "zod";

// Unknown top-level fields (top_p, seed, user, ...) are accepted and ignored, as
// real clients send many of them; the ones we use are validated.

/** Text, text and image parts (their text joined), or none (an assistant turn of tool calls). */
const contentSchema = z
  .union([z.string(), z.null(), z.array(z.looseObject({ type: z.string(), text: z.string().optional() }))])
  .optional()
  .transform((c) => (typeof c === "string" ? c : (c ?? []).map((p) => (p.type === "text" ? (p.text ?? "") : "")).join("")));

const toolCallSchema = z.object({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const chatMessageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: contentSchema,
  tool_calls: z.array(toolCallSchema).nullish(),
  tool_call_id: z.string().nullish(),
});

export const toolSchema = z.object({
  type: z.literal("function"),
  function: z.object({
    name: z.string().min(1),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
  }),
});

export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(chatMessageSchema).min(1),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  tools: z.array(toolSchema).nullish(),
  tool_choice: z
    .union([z.enum(["none", "auto", "required"]), z.object({ type: z.literal("function"), function: z.object({ name: z.string() }) })])
    .nullish(),
  parallel_tool_calls: z.boolean().nullish(),
});

export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;

/** The tightest of `max_tokens` / `max_completion_tokens`, if either is set. */
export function requestedTokenCap(request: ChatCompletionRequest): number | undefined {
  const caps = [request.max_tokens, request.max_completion_tokens].filter((cap): cap is number => typeof cap === "number");
  return caps.length === 0 ? undefined : Math.min(...caps);
}

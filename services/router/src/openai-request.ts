import { create } from "@bufbuild/protobuf";
import { CompletionInputSchema, type CompletionInput } from "@tiermesh/proto";
import { z } from "zod";
import { EdgeError } from "./edge-error.js";

const textPart = z.strictObject({ type: z.literal("text"), text: z.string() });
const imagePart = z.strictObject({
  type: z.literal("image_url"),
  image_url: z.strictObject({ url: z.string().min(1), detail: z.enum(["auto", "low", "high"]).optional() }),
});
const textContent = z.union([z.string(), z.array(textPart)]);
const toolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal("function"),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});
const functionName = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected 1 to 64 letters, digits, _ or -");

const messageSchema = z.discriminatedUnion("role", [
  z.strictObject({ role: z.literal("system"), content: textContent }),
  z.strictObject({ role: z.literal("developer"), content: textContent }),
  z.strictObject({ role: z.literal("user"), content: z.union([z.string(), z.array(z.discriminatedUnion("type", [textPart, imagePart]))]) }),
  z.strictObject({
    role: z.literal("assistant"),
    content: textContent.nullish(),
    tool_calls: z.array(toolCall).min(1).optional(),
    refusal: z.null().optional(),
  }),
  z.strictObject({ role: z.literal("tool"), content: textContent, tool_call_id: z.string().min(1) }),
]);

/** The chat-completions parameters tiermesh serves. Every other field is refused, never ignored. */
const bodySchema = z
  .strictObject({
    model: z.string().default(""),
    messages: z.array(messageSchema).min(1),
    max_tokens: z.number().int().positive().optional(),
    max_completion_tokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    stream: z.boolean().optional(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).optional(),
    user: z.string().optional(),
    response_format: z
      .discriminatedUnion("type", [
        z.strictObject({ type: z.literal("text") }),
        z.strictObject({ type: z.literal("json_object") }),
        z.strictObject({
          type: z.literal("json_schema"),
          json_schema: z.strictObject({
            name: functionName,
            description: z.string().optional(),
            schema: z.record(z.string(), z.unknown()).optional(),
            strict: z.boolean().nullish(),
          }),
        }),
      ])
      .optional(),
    tools: z
      .array(
        z.strictObject({
          type: z.literal("function"),
          function: z.strictObject({
            name: functionName,
            description: z.string().optional(),
            parameters: z.record(z.string(), z.unknown()).optional(),
            strict: z.boolean().nullish(),
          }),
        }),
      )
      .optional(),
    tool_choice: z
      .union([
        z.enum(["none", "auto", "required"]),
        z.strictObject({ type: z.literal("function"), function: z.strictObject({ name: z.string().min(1) }) }),
      ])
      .optional(),
    parallel_tool_calls: z.boolean().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(4)]).optional(),
    seed: z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .superRefine((b, ctx) => {
    const names = new Set((b.tools ?? []).map((t) => t.function.name));
    const choice = b.tool_choice;
    if (choice !== undefined && choice !== "none" && choice !== "auto" && names.size === 0) {
      ctx.addIssue({ code: "custom", path: ["tool_choice"], message: "tool_choice needs tools" });
    } else if (typeof choice === "object" && !names.has(choice.function.name)) {
      ctx.addIssue({ code: "custom", path: ["tool_choice"], message: `no tool named "${choice.function.name}" in tools` });
    }
    if (b.stream_options !== undefined && b.stream !== true) {
      ctx.addIssue({ code: "custom", path: ["stream_options"], message: "stream_options is only allowed when stream is true" });
    }
  });

export type ChatBody = z.output<typeof bodySchema>;

/**
 * OpenAI parameters tiermesh does not serve, each with the one value that asks for nothing
 * (accepted: it is what tiermesh does anyway). Any other value is refused naming the parameter.
 */
const neutralValues: Readonly<Record<string, (v: unknown) => boolean>> = {
  n: (v) => v === 1,
  logprobs: (v) => v === false,
  top_logprobs: () => false,
  top_p: (v) => v === 1,
  frequency_penalty: (v) => v === 0,
  presence_penalty: (v) => v === 0,
  logit_bias: (v) => typeof v === "object" && v !== null && Object.keys(v).length === 0,
  functions: () => false,
  function_call: () => false,
  modalities: (v) => Array.isArray(v) && v.length === 1 && v[0] === "text",
  audio: () => false,
  prediction: () => false,
  reasoning_effort: () => false,
  verbosity: () => false,
  web_search_options: () => false,
  metadata: () => false,
  store: (v) => v === false,
  // The tier comes from the plan, the model name or x-tiermesh-tier; never from this.
  service_tier: (v) => v === "auto" || v === "default",
};

/**
 * The body of `POST /v1/chat/completions`, checked: 400 naming the parameter (`param`) for
 * invalid JSON, a bad field, an unknown field, or a parameter tiermesh does not serve. A
 * top-level `null` is taken as the field left out, as OpenAI does.
 */
export function parseChatBody(text: string): ChatBody {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EdgeError(400, "request body is not valid JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new EdgeError(400, "request body must be a JSON object");
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(json)) {
    if (value === null) continue;
    const neutral = Object.hasOwn(neutralValues, key) ? neutralValues[key] : undefined;
    if (neutral === undefined) fields[key] = value;
    else if (!neutral(value))
      throw new EdgeError(400, `${key}: not supported by tiermesh (value ${JSON.stringify(value)})`, key, "unsupported_parameter");
  }
  const parsed = bodySchema.safeParse(fields);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String);
  if (issue.code === "unrecognized_keys") {
    const param = [...path, issue.keys[0]!].join(".");
    throw new EdgeError(400, `Unrecognized request argument supplied: ${param}`, param, "unknown_parameter");
  }
  const param = path.join(".");
  throw new EdgeError(400, `${param || "body"}: ${issue.message}`, param || null);
}

/**
 * The request as the router takes it (urgency and tier hint from the edge's headers). Text
 * parts become the message's text; parts are kept only for content with images.
 */
export function toInput(body: ChatBody, urgency: string | undefined, tierHint: string | undefined): CompletionInput {
  const format = body.response_format;
  const choice = body.tool_choice;
  return create(CompletionInputSchema, {
    messages: body.messages.map((m) => {
      const content = m.content ?? "";
      const text = typeof content === "string" ? content : content.map((p) => (p.type === "text" ? p.text : "")).join("");
      const images = typeof content !== "string" && content.some((p) => p.type === "image_url");
      return {
        role: m.role === "developer" ? "system" : m.role,
        content: text,
        parts:
          images && typeof content !== "string"
            ? content.map((p) =>
                p.type === "text"
                  ? { part: { case: "text" as const, value: p.text } }
                  : { part: { case: "imageUrl" as const, value: { url: p.image_url.url, detail: p.image_url.detail ?? "" } } },
              )
            : [],
        toolCalls:
          m.role === "assistant"
            ? (m.tool_calls ?? []).map((c) => ({ id: c.id, name: c.function.name, argumentsJson: c.function.arguments }))
            : [],
        toolCallId: m.role === "tool" ? m.tool_call_id : "",
      };
    }),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 0,
    ...(body.temperature !== undefined ? { temperature: body.temperature } : {}),
    urgency: urgency ?? "",
    tierHint: tierHint ?? "",
    user: body.user ?? "",
    model: body.model,
    jsonMode: format?.type === "json_object",
    ...(format?.type === "json_schema"
      ? {
          jsonSchema: {
            name: format.json_schema.name,
            description: format.json_schema.description ?? "",
            schemaJson: JSON.stringify(format.json_schema.schema ?? {}),
            strict: format.json_schema.strict === true,
          },
        }
      : {}),
    tools: (body.tools ?? []).map((t) => ({
      name: t.function.name,
      description: t.function.description ?? "",
      parametersJson: t.function.parameters === undefined ? "" : JSON.stringify(t.function.parameters),
      strict: t.function.strict === true,
    })),
    ...(choice === undefined
      ? {}
      : { toolChoice: typeof choice === "string" ? { mode: choice } : { mode: "function", functionName: choice.function.name } }),
    ...(body.parallel_tool_calls !== undefined ? { parallelToolCalls: body.parallel_tool_calls } : {}),
    stop: body.stop === undefined ? [] : typeof body.stop === "string" ? [body.stop] : body.stop,
    ...(body.seed !== undefined ? { seed: BigInt(body.seed) } : {}),
    includeUsage: body.stream_options?.include_usage === true,
  });
}

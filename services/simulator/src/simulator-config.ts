import { z } from "zod";

/** Largest completion the simulator will produce; keeps a typo from allocating gigabytes. */
export const MAX_OUTPUT_TOKENS = 100_000;

const delayMs = z.number().min(0);
const rate = z.number().min(0).max(1);
const tokenCount = z.number().int().min(0).max(MAX_OUTPUT_TOKENS);

const latencyFields = { median: delayMs, p99: delayMs };
const outputTokenFields = { min: tokenCount, max: tokenCount };

/** A lognormal delay fitted to its median and 99th percentile, in milliseconds. */
export const latencyDistributionSchema = z.strictObject(latencyFields).refine((d) => d.p99 >= d.median, {
  message: "p99 must be greater than or equal to median",
  path: ["p99"],
});

export const outputTokensSchema = z.strictObject(outputTokenFields).refine((t) => t.max >= t.min, {
  message: "max must be greater than or equal to min",
  path: ["max"],
});

const scalarFields = {
  error_rate: rate,
  outage: z.boolean(),
  rate_limit_rate: rate,
  retry_after_s: z.number().int().min(0),
  hang_rate: rate,
  stream_cut_rate: rate,
  /** Streams only: stop sending at the fault point and keep the connection open. */
  stream_stall_rate: rate,
  /** Streams only: one chunk that is not JSON at the fault point, then the rest of the answer. */
  malformed_chunk_rate: rate,
  /** Streams only: end after the finish (and usage) chunk without `data: [DONE]`. */
  missing_done_rate: rate,
  /** Where stream cuts, stalls and malformed chunks happen: after this many tokens; null = half the answer. */
  fault_after_tokens: tokenCount.nullable(),
  /** Answer 400 to a request whose last message is an assistant prefix, as servers without prefill do. */
  refuse_prefix: z.boolean(),
  /**
   * Tokens the model takes, prompt (estimated as the simulator counts usage) plus max_tokens;
   * a longer request gets OpenAI's 400 `context_length_exceeded`. null = no limit.
   */
  context_window: z.number().int().positive().nullable(),
  /**
   * Tool calls when the request leaves the choice to the model (`tool_choice` "auto" or unset):
   * "auto" calls the first tool when the last message is the user's; "never" answers in text.
   * A required or named choice is always honoured. See planToolCalls.
   */
  tool_use: z.enum(["auto", "never"]),
};

export const modelProfileSchema = z.strictObject({
  ttft_ms: latencyDistributionSchema.default(() => ({ median: 50, p99: 150 })),
  inter_token_ms: latencyDistributionSchema.default(() => ({ median: 5, p99: 15 })),
  output_tokens: outputTokensSchema.default(() => ({ min: 16, max: 48 })),
  error_rate: scalarFields.error_rate.default(0),
  outage: scalarFields.outage.default(false),
  rate_limit_rate: scalarFields.rate_limit_rate.default(0),
  retry_after_s: scalarFields.retry_after_s.default(1),
  hang_rate: scalarFields.hang_rate.default(0),
  stream_cut_rate: scalarFields.stream_cut_rate.default(0),
  stream_stall_rate: scalarFields.stream_stall_rate.default(0),
  malformed_chunk_rate: scalarFields.malformed_chunk_rate.default(0),
  missing_done_rate: scalarFields.missing_done_rate.default(0),
  fault_after_tokens: scalarFields.fault_after_tokens.default(null),
  refuse_prefix: scalarFields.refuse_prefix.default(false),
  context_window: scalarFields.context_window.default(null),
  tool_use: scalarFields.tool_use.default("auto"),
});

export type ModelProfile = z.output<typeof modelProfileSchema>;

/**
 * A runtime change to a profile: every field optional, nested objects partial,
 * unknown keys rejected. Cross-field rules (p99 >= median, max >= min) are
 * checked by re-validating the merged profile with `modelProfileSchema`.
 */
export const modelProfilePatchSchema = z.strictObject({
  ttft_ms: z.strictObject(latencyFields).partial().optional(),
  inter_token_ms: z.strictObject(latencyFields).partial().optional(),
  output_tokens: z.strictObject(outputTokenFields).partial().optional(),
  ...z.strictObject(scalarFields).partial().shape,
});

export type ModelProfilePatch = z.output<typeof modelProfilePatchSchema>;

const listenAddressSchema = z
  .string()
  .regex(/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'must be "host:port"')
  .refine((value) => Number(value.slice(value.lastIndexOf(":") + 1)) <= 65_535, {
    message: "port must be at most 65535",
  });

/** YAML `sim-model:` with no body parses as null; treat it as "all defaults". */
const modelEntrySchema = z.preprocess((value) => (value === null ? {} : value), modelProfileSchema);

export const simulatorConfigSchema = z.strictObject({
  listen: listenAddressSchema.default("127.0.0.1:7490"),
  models: z.record(z.string().min(1), modelEntrySchema).refine((models) => Object.keys(models).length > 0, {
    message: "at least one model is required",
  }),
});

export type SimulatorConfig = z.output<typeof simulatorConfigSchema>;

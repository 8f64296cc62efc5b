import type { IncomingMessage, ServerResponse } from "node:http";
import { pause } from "./abortable-pause.js";
import { chatCompletionRequestSchema, requestedTokenCap } from "./chat-completion-request.js";
import { assistantPrefix, planCompletion, type CompletionPlan } from "./completion-plan.js";
import { streamCompletion } from "./completion-stream.js";
import { contextLengthRefusal } from "./context-window.js";
import { sampleDelayMs, sampleTotalDelayMs } from "./latency.js";
import { invalidRequestFromZod, openAIError, sendOpenAIError } from "./openai-error.js";
import { readJsonOrReply } from "./read-json-body.js";
import { PROBE_HEADER, type RequestLog } from "./request-log.js";
import { sendJson } from "./send-json.js";
import type { ModelProfile } from "./simulator-config.js";

export type Fault = "outage" | "hang" | "rate_limit" | "error";

/** Picks the injected fault for one request, in precedence order; null means "answer normally". */
export function pickFault(profile: ModelProfile, random: () => number): Fault | null {
  const hit = (rate: number): boolean => rate > 0 && random() < rate;
  if (profile.outage) return "outage";
  if (hit(profile.hang_rate)) return "hang";
  if (hit(profile.rate_limit_rate)) return "rate_limit";
  if (hit(profile.error_rate)) return "error";
  return null;
}

function completionBody(plan: CompletionPlan): unknown {
  return {
    id: plan.id,
    object: "chat.completion",
    created: plan.created,
    model: plan.model,
    choices: [
      {
        index: 0,
        message:
          plan.toolCalls.length > 0
            ? {
                role: "assistant",
                content: null,
                tool_calls: plan.toolCalls.map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })),
              }
            : { role: "assistant", content: plan.tokens.join("") },
        logprobs: null,
        finish_reason: plan.finishReason,
      },
    ],
    usage: plan.usage,
  };
}

/** Answers a fault; for `hang` nothing is ever sent. */
function answerFault(res: ServerResponse, fault: Fault, profile: ModelProfile, model: string): void {
  switch (fault) {
    case "outage":
      return sendOpenAIError(
        res,
        503,
        openAIError(`The model \`${model}\` is unavailable (simulated outage)`, "server_error", "service_unavailable"),
      );
    case "hang":
      // Accepted and never answered; the response closes when the client or server goes away.
      return;
    case "rate_limit":
      return sendOpenAIError(res, 429, openAIError(`Rate limit reached for \`${model}\` (simulated)`, "requests", "rate_limit_exceeded"), {
        "retry-after": String(profile.retry_after_s),
      });
    case "error":
      return sendOpenAIError(
        res,
        500,
        openAIError("The server had an error while processing your request (simulated)", "server_error", "internal_error"),
      );
  }
}

export interface ChatCompletionsDeps {
  profileOf(model: string): ModelProfile | undefined;
  random: () => number;
  /** Counts every request to a known model. */
  log?: RequestLog;
}

/** `POST /v1/chat/completions`. `signal` aborts when the response closes. */
export async function handleChatCompletions(
  deps: ChatCompletionsDeps,
  req: IncomingMessage,
  res: ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const body = await readJsonOrReply(req, res);
  if (body === undefined) return;
  const parsed = chatCompletionRequestSchema.safeParse(body.value);
  if (!parsed.success) return sendOpenAIError(res, 400, invalidRequestFromZod(parsed.error));
  const request = parsed.data;

  // Snapshot: admin changes apply to requests that start after them.
  const profile = deps.profileOf(request.model);
  if (profile === undefined) {
    return sendOpenAIError(
      res,
      404,
      openAIError(`The model \`${request.model}\` does not exist`, "invalid_request_error", "model_not_found", "model"),
    );
  }

  // Validated before anything else, as providers do: an over-long request is never served.
  const tooLong = contextLengthRefusal(request, profile);
  const refused = !tooLong && profile.refuse_prefix && assistantPrefix(request) !== undefined;
  const fault = tooLong || refused ? null : pickFault(profile, deps.random);
  deps.log?.record(request.model, {
    at_ms: Date.now(),
    probe: req.headers[PROBE_HEADER] === "1",
    max_tokens: requestedTokenCap(request) ?? null,
    answer: tooLong ? "context_length_exceeded" : refused ? "prefix_refused" : (fault ?? "ok"),
  });
  if (tooLong) return sendOpenAIError(res, 400, tooLong);
  if (refused) {
    return sendOpenAIError(
      res,
      400,
      openAIError(
        `The model \`${request.model}\` does not support a final assistant message (prefill) (simulated)`,
        "invalid_request_error",
        "unsupported_prefill",
        "messages",
      ),
    );
  }
  if (fault !== null) return answerFault(res, fault, profile, request.model);

  const plan = planCompletion(request, profile, deps.random);
  const ttftMs = sampleDelayMs(profile.ttft_ms, deps.random);
  if (request.stream === true) {
    const nextInterTokenMs = (): number => sampleDelayMs(profile.inter_token_ms, deps.random);
    const includeUsage = request.stream_options?.include_usage === true;
    return streamCompletion(res, plan, { ttftMs, nextInterTokenMs }, includeUsage, signal);
  }
  const totalMs = ttftMs + sampleTotalDelayMs(profile.inter_token_ms, plan.tokens.length, deps.random);
  if (!(await pause(totalMs, signal))) return;
  sendJson(res, 200, completionBody(plan));
}

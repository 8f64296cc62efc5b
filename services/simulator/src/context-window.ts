import { requestedTokenCap, type ChatCompletionRequest } from "./chat-completion-request.js";
import { estimatePromptTokens } from "./completion-plan.js";
import { openAIError, type OpenAIErrorBody } from "./openai-error.js";
import type { ModelProfile } from "./simulator-config.js";

/**
 * OpenAI's answer to a request over the model's context window (prompt plus max_tokens), as
 * a 400 body; undefined when the request fits or the model has no window.
 */
export function contextLengthRefusal(request: ChatCompletionRequest, profile: ModelProfile): OpenAIErrorBody | undefined {
  const window = profile.context_window;
  if (window === null) return undefined;
  const prompt = estimatePromptTokens(request.messages);
  const completion = requestedTokenCap(request) ?? 0;
  if (prompt + completion <= window) return undefined;
  return openAIError(
    `This model's maximum context length is ${window} tokens. However, you requested ${prompt + completion} tokens ` +
      `(${prompt} in the messages, ${completion} in the completion). Please reduce the length of the messages or completion.`,
    "invalid_request_error",
    "context_length_exceeded",
    "messages",
  );
}

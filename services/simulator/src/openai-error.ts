import type { ServerResponse } from "node:http";
import type { z } from "zod";
import { sendJson } from "./send-json.js";

/** The body OpenAI-compatible clients expect on any non-2xx answer. */
export interface OpenAIErrorBody {
  error: {
    message: string;
    type: string;
    param: string | null;
    code: string | null;
  };
}

export function openAIError(message: string, type: string, code: string | null = null, param: string | null = null): OpenAIErrorBody {
  return { error: { message, type, param, code } };
}

export function sendOpenAIError(res: ServerResponse, status: number, body: OpenAIErrorBody, headers: Record<string, string> = {}): void {
  sendJson(res, status, body, headers);
}

/** Renders a zod path as `messages[0].content`; the empty path is `null`. */
export function formatFieldPath(path: readonly PropertyKey[]): string | null {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else out += out === "" ? String(segment) : `.${String(segment)}`;
  }
  return out === "" ? null : out;
}

/** Turns the first validation issue into a 400 body whose message and `param` name the field. */
export function invalidRequestFromZod(error: z.ZodError, subject = "request body"): OpenAIErrorBody {
  const issue = error.issues[0];
  if (issue === undefined) return openAIError(`Invalid ${subject}`, "invalid_request_error");
  const path: PropertyKey[] = [...issue.path];
  if (issue.code === "unrecognized_keys" && issue.keys[0] !== undefined) path.push(issue.keys[0]);
  const param = formatFieldPath(path);
  const message = `Invalid ${subject}: ${param ?? "(root)"}: ${issue.message}`;
  return openAIError(message, "invalid_request_error", null, param);
}

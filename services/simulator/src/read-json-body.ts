import type { IncomingMessage, ServerResponse } from "node:http";
import { openAIError, sendOpenAIError } from "./openai-error.js";

/** Request bodies above this size are answered 413. */
export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export type JsonBody =
  | { kind: "json"; value: unknown }
  | { kind: "invalid-json"; detail: string }
  | { kind: "too-large" }
  | { kind: "aborted" };

/** Reads and parses a JSON body, giving up as soon as it exceeds `limitBytes`. */
export function readJsonBody(req: IncomingMessage, limitBytes = MAX_BODY_BYTES): Promise<JsonBody> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limitBytes) return Promise.resolve({ kind: "too-large" });

  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;

    const settle = (result: JsonBody): void => {
      if (settled) return;
      settled = true;
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onAbort);
      req.off("close", onClose);
      resolve(result);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) settle({ kind: "too-large" });
      else chunks.push(chunk);
    };
    const onEnd = (): void => {
      try {
        settle({ kind: "json", value: JSON.parse(Buffer.concat(chunks).toString("utf8")) });
      } catch (err: unknown) {
        settle({ kind: "invalid-json", detail: err instanceof Error ? err.message : String(err) });
      }
    };
    const onAbort = (): void => settle({ kind: "aborted" });
    const onClose = (): void => {
      if (!req.complete) settle({ kind: "aborted" });
    };

    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onAbort);
    req.on("close", onClose);
  });
}

/**
 * Answers the failure cases of `readJsonBody` and returns the parsed value,
 * or `undefined` when the request has already been dealt with.
 */
export async function readJsonOrReply(req: IncomingMessage, res: ServerResponse): Promise<{ value: unknown } | undefined> {
  const body = await readJsonBody(req);
  switch (body.kind) {
    case "json":
      return { value: body.value };
    case "invalid-json":
      sendOpenAIError(res, 400, openAIError(`Could not parse the request body as JSON: ${body.detail}`, "invalid_request_error"));
      return undefined;
    case "too-large":
      // The rest of the body is never read, so the connection cannot be reused.
      sendOpenAIError(res, 413, openAIError(`Request body exceeds ${MAX_BODY_BYTES} bytes`, "invalid_request_error", "request_too_large"), {
        connection: "close",
      });
      return undefined;
    case "aborted":
      return undefined;
  }
}

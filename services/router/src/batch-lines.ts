import { create } from "@bufbuild/protobuf";
import { JobSpecSchema, type JobSpec } from "@tiermesh/proto";
import { EdgeError } from "./edge-error.js";
import { parseChatBody, toInput } from "./openai-request.js";
import type { LineError } from "@tiermesh/jobs";

export const BATCH_ENDPOINT = "/v1/chat/completions";

/** A line of a batch input file that became a job spec. */
export interface BatchLine {
  line: number;
  customId: string;
  spec: JobSpec;
}

/**
 * Reads a batch input file (JSONL: `{custom_id, method: "POST", url, body}` per line) into job
 * specs. A line that cannot be a job (bad JSON, no custom_id or one used before, another
 * endpoint, a refused parameter) becomes a line error and never fails the batch. Each job's
 * idempotency key is its batch and custom_id, so creating a batch again queues nothing twice.
 */
export function readBatchLines(
  text: string,
  batchId: string,
  windowSeconds: number,
): { lines: BatchLine[]; errors: LineError[]; total: number } {
  const lines: BatchLine[] = [];
  const errors: LineError[] = [];
  const seen = new Set<string>();
  const raw = text.split("\n");
  if (raw.at(-1)?.trim() === "") raw.pop();
  // biome-ignore lint/suspicious/useIterableCallbackReturn: each line returns early once refused
  raw.forEach((content, i) => {
    const line = i + 1;
    let customId: string | null = null;
    const refuse = (code: string, message: string) => errors.push({ line, custom_id: customId, code, message });
    let json: unknown;
    try {
      json = JSON.parse(content);
    } catch {
      return refuse("invalid_json", `line ${line} is not valid JSON`);
    }
    if (typeof json !== "object" || json === null || Array.isArray(json))
      return refuse("invalid_request", `line ${line} is not a JSON object`);
    const fields = json as Record<string, unknown>;
    if (typeof fields["custom_id"] !== "string" || fields["custom_id"] === "")
      return refuse("missing_custom_id", `line ${line}: custom_id (a string) is required`);
    customId = fields["custom_id"];
    if (seen.has(customId)) return refuse("duplicate_custom_id", `line ${line}: custom_id "${customId}" is used by an earlier line`);
    seen.add(customId);
    if (fields["method"] !== undefined && fields["method"] !== "POST") return refuse("invalid_method", `line ${line}: method must be POST`);
    if (fields["url"] !== BATCH_ENDPOINT) return refuse("invalid_url", `line ${line}: url must be ${BATCH_ENDPOINT}`);
    try {
      const body = parseChatBody(JSON.stringify(fields["body"] ?? null));
      if (body.stream) return refuse("invalid_request", `line ${line}: stream is not supported in a batch`);
      const input = toInput(body, undefined, undefined);
      const spec = create(JobSpecSchema, {
        input,
        idempotencyKey: `${batchId}/${customId}`,
        completionWindowSeconds: windowSeconds,
        metadata: { batch_id: batchId, custom_id: customId },
      });
      lines.push({ line, customId, spec });
    } catch (err) {
      if (!(err instanceof EdgeError)) throw err;
      refuse(err.code ?? "invalid_request", `line ${line}: ${err.message}`);
    }
  });
  return { lines, errors, total: raw.length };
}

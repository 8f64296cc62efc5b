import type { Job } from "@tiermesh/proto";
import { JobState } from "@tiermesh/proto";
import { BATCH_EXPIRED, type BatchRecord } from "./batch-record.js";
import { completionBody } from "./chat-completion-body.js";

const encoder = new TextEncoder();
const jsonl = (rows: object[]) => encoder.encode(rows.map((r) => `${JSON.stringify(r)}\n`).join(""));

const ERROR_CODES: Partial<Record<JobState, string>> = {
  [JobState.EXPIRED]: BATCH_EXPIRED,
  [JobState.CANCELLED]: "batch_cancelled",
};

/**
 * A finished batch's output file (one line per succeeded request, with its chat completion)
 * and error file (one line per refused line or failed, expired or cancelled request), each
 * line as OpenAI shapes it: `{id, custom_id, response: {status_code, request_id, body}, error}`.
 * Lines keep the input file's order.
 */
export function batchOutputs(batch: BatchRecord, jobs: readonly (Job | undefined)[]): { output: Uint8Array; errors: Uint8Array } {
  const output: object[] = [];
  const errors: object[] = batch.line_errors.map((e) => ({
    id: `batch_req_${batch.id.slice("batch_".length)}_line${e.line}`,
    custom_id: e.custom_id,
    response: null,
    error: { code: e.code, message: e.message },
  }));
  batch.jobs.forEach(({ custom_id, job_id }, i) => {
    const job = jobs[i];
    const id = `batch_req_${job_id.slice("job_".length)}`;
    if (job?.state === JobState.SUCCEEDED && job.result) {
      const created = Math.floor(Number(job.finishedAtMs) / 1_000);
      output.push({
        id,
        custom_id,
        response: { status_code: 200, request_id: job_id, body: completionBody(job.result, created) },
        error: null,
      });
      return;
    }
    const code = job ? (ERROR_CODES[job.state] ?? job.error?.code ?? "failed") : "job_not_found";
    const message = job ? (job.error?.message ?? `request ${JobState[job.state].toLowerCase()}`) : "the request's job is no longer kept";
    errors.push({ id, custom_id, response: null, error: { code, message } });
  });
  return { output: jsonl(output), errors: jsonl(errors) };
}

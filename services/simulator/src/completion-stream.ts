import type { ServerResponse } from "node:http";
import { pause } from "./abortable-pause.js";
import type { CompletionPlan, FinishReason, Usage } from "./completion-plan.js";

interface ToolCallChunk {
  index: number;
  id?: string;
  type?: "function";
  function: { name?: string; arguments: string };
}

interface ChunkChoice {
  index: 0;
  delta: { role?: "assistant"; content?: string | null; tool_calls?: ToolCallChunk[] };
  logprobs: null;
  finish_reason: FinishReason | null;
}

export interface StreamTiming {
  ttftMs: number;
  /** Sampled afresh before every token. */
  nextInterTokenMs: () => number;
}

function chunk(plan: CompletionPlan, choices: ChunkChoice[], usage?: Usage | null): string {
  const body = {
    id: plan.id,
    object: "chat.completion.chunk",
    created: plan.created,
    model: plan.model,
    choices,
    ...(usage === undefined ? {} : { usage }),
  };
  return `data: ${JSON.stringify(body)}\n\n`;
}

function choice(delta: ChunkChoice["delta"], finishReason: FinishReason | null = null): ChunkChoice {
  return { index: 0, delta, logprobs: null, finish_reason: finishReason };
}

/** Writes and, if the socket buffer is full, waits for it to drain (or for the client to leave). */
function write(res: ServerResponse, data: string, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted || res.destroyed) return Promise.resolve(false);
  if (res.write(data)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onDrain = (): void => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    };
    const onAbort = (): void => {
      res.off("drain", onDrain);
      resolve(false);
    };
    res.once("drain", onDrain);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** A chunk cut short mid-JSON, as a buggy proxy might forward it. */
function malformedChunk(plan: CompletionPlan): string {
  return `data: {"id":"${plan.id}","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content"\n\n`;
}

/** Simulates a dropped upstream: flush what was sent, then destroy the socket without [DONE]. */
function cut(res: ServerResponse): void {
  res.write(": simulated stream cut\n\n", () => res.destroy());
}

/** The deltas after the role chunk: one per token, or, for tool calls, each call's id and name, then its argument pieces. */
function deltasOf(plan: CompletionPlan): ChunkChoice["delta"][] {
  if (plan.toolCalls.length === 0) return plan.tokens.map((content) => ({ content }));
  return plan.toolCalls.flatMap((c, index) => [
    { tool_calls: [{ index, id: c.id, type: "function" as const, function: { name: c.name, arguments: "" } }] },
    ...c.pieces.map((piece) => ({ tool_calls: [{ index, function: { arguments: piece } }] })),
  ]);
}

/**
 * Streams `plan` as OpenAI server-sent events: role delta after TTFT, one chunk
 * per token (or tool call piece) paced by the inter-token delay, a finish chunk, an optional usage
 * chunk, then `[DONE]` (unless the plan omits it). The plan's fault, if any, strikes
 * after its number of tokens. Stops (clearing its timer) as soon as `signal` aborts.
 */
export async function streamCompletion(
  res: ServerResponse,
  plan: CompletionPlan,
  timing: StreamTiming,
  includeUsage: boolean,
  signal: AbortSignal,
): Promise<void> {
  const usageField = includeUsage ? null : undefined;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
  });
  res.flushHeaders();

  if (!(await pause(timing.ttftMs, signal))) return;
  const calling = plan.toolCalls.length > 0;
  if (!(await write(res, chunk(plan, [choice({ role: "assistant", content: calling ? null : "" })], usageField), signal))) {
    return;
  }
  const { fault } = plan;
  const deltas = deltasOf(plan);
  for (let index = 0; index <= deltas.length; index++) {
    if (fault?.afterTokens === index) {
      if (fault.kind === "cut") return cut(res);
      // Stalled: the connection stays open, silent, until the client gives up.
      if (fault.kind === "stall") return;
      if (!(await write(res, malformedChunk(plan), signal))) return;
    }
    const delta = deltas[index];
    if (delta === undefined) break;
    if (!(await pause(timing.nextInterTokenMs(), signal))) return;
    if (!(await write(res, chunk(plan, [choice(delta)], usageField), signal))) return;
  }

  if (!(await write(res, chunk(plan, [choice({}, plan.finishReason)], usageField), signal))) return;
  if (includeUsage && !(await write(res, chunk(plan, [], plan.usage), signal))) return;
  if (signal.aborted || res.destroyed) return;
  res.end(plan.omitDone ? undefined : "data: [DONE]\n\n");
}

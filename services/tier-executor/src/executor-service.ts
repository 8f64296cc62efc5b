import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { ExecuteResponseSchema, type TierExecutorService, type ExecuteRequest, type ExecuteResponse } from "@tiermesh/proto";
import { deadlineFrom, traceContextOf } from "@tiermesh/runtime";
import { checkInput } from "./input-check.js";
import { withDelivered } from "./interrupted-answer.js";
import type { ToolCall } from "./providers/provider-adapter.js";
import { batchText } from "./text-batcher.js";
import type { RunEvent, RunResult, TierRunner } from "./tier-runner.js";
import { ToolCallAssembly } from "./tool-call-assembly.js";

const isText = (e: RunEvent): e is Extract<RunEvent, { type: "text" }> => e.type === "text";

export interface TierExecutorServiceDeps {
  tierName: string;
  runner: TierRunner;
  /** Deadline for calls that carry none. */
  defaultTimeoutMs: number;
  /** Text arriving within this many ms of text already waiting leaves in the same message (0: every token at once). */
  streamFlushMs?: number;
}

export function createTierExecutorService(deps: TierExecutorServiceDeps): ServiceImpl<typeof TierExecutorService> {
  const validate = (req: ExecuteRequest) => {
    if (req.tier !== deps.tierName) {
      throw new ConnectError(`tier: this executor serves "${deps.tierName}", not "${req.tier}"`, Code.InvalidArgument);
    }
    if (!req.input || req.input.messages.length === 0) {
      throw new ConnectError("input.messages: at least one message is required", Code.InvalidArgument);
    }
    if (req.deployment !== "" && !req.probe) {
      throw new ConnectError("deployment: only canary probes may choose a deployment", Code.InvalidArgument);
    }
    if (req.deployment !== "" && !deps.runner.deployments.some((d) => d.deployment.id === req.deployment)) {
      throw new ConnectError(`deployment: tier ${deps.tierName} has no deployment "${req.deployment}"`, Code.InvalidArgument);
    }
    checkInput(req.input);
    return req.input;
  };
  const start = (req: ExecuteRequest, ctx: HandlerContext) => {
    const input = validate(req);
    const deadline = deadlineFrom(ctx.timeoutMs(), deps.defaultTimeoutMs);
    return deps.runner.run(
      {
        input,
        probe: req.probe,
        tenant: req.tenant,
        maxAttempts: req.maxAttempts,
        deployment: req.deployment || undefined,
        promptTokens: req.promptTokens,
        assistantPrefix: req.assistantPrefix || undefined,
        requestedTier: req.requestedTier || undefined,
      },
      { deadline, signal: ctx.signal, trace: traceContextOf(ctx) },
    );
  };
  return {
    async execute(req, ctx) {
      const run = start(req, ctx);
      let content = "";
      const calls = new ToolCallAssembly();
      try {
        for (;;) {
          const step = await run.next();
          if (step.done) return response(deps.tierName, step.value, content, calls.calls);
          if (step.value.type === "text") content += step.value.text;
          else if (step.value.type === "tool_call") calls.add(step.value.call);
        }
      } catch (cause) {
        // Text can be continued elsewhere; an answer with a tool call begun cannot.
        throw calls.size > 0 ? cause : withDelivered(cause, content);
      }
    },
    /**
     * Streams the answer. Events, in order:
     * - `hedgeAdvice`: at most once, before any text, when the tier's hedge delay passed
     *   without a first token and the tier has nothing else to hedge on (both modes);
     * - normal mode: `delta` per piece of text and `toolCall` per piece of a tool call, in
     *   order; collect mode: one `started` when the first token (or tool call piece) arrives
     *   (just before `done` when the answer is empty), no deltas;
     * - `done`, last; its `content` and `tool_calls` hold the whole answer in collect mode, are
     *   empty otherwise.
     * A failure ends the stream with the runner's ConnectError instead of `done`; in collect
     * mode it carries the text produced so far as an InterruptedAnswer detail, so the caller
     * can continue the answer elsewhere (not once a tool call began: that cannot be continued).
     */
    async *executeStream(req, ctx) {
      const received = performance.now();
      const sinceReceivedUs = () => BigInt(Math.round((performance.now() - received) * 1_000));
      const started = start(req, ctx);
      // Collect mode sends no text until done: nothing to batch.
      const run = req.collect ? started : batchText(started, deps.streamFlushMs ?? 0, isText, (e, text) => ({ ...e, text }));
      let content = "";
      const calls = new ToolCallAssembly();
      let startedSent = false;
      try {
        for (;;) {
          let step;
          try {
            step = await run.next();
          } catch (cause) {
            // Collecting, the caller has none of the text yet: it travels with the error.
            throw req.collect && calls.size === 0 ? withDelivered(cause, content) : cause;
          }
          if (step.done) {
            if (req.collect && !startedSent) yield { event: { case: "started", value: { ttftUs: sinceReceivedUs() } } };
            yield {
              event: {
                case: "done",
                value: response(deps.tierName, step.value, req.collect ? content : "", req.collect ? calls.calls : []),
              },
            };
            return;
          }
          const event = step.value;
          if (event.type === "hedge_advice") {
            yield { event: { case: "hedgeAdvice", value: { reason: event.reason, waitedMs: Math.round(event.waitedMs) } } };
          } else if (!req.collect) {
            if (event.type === "text") yield { event: { case: "delta", value: event.text } };
            else yield { event: { case: "toolCall", value: event.call } };
          } else {
            if (!startedSent) {
              startedSent = true;
              yield { event: { case: "started", value: { ttftUs: sinceReceivedUs() } } };
            }
            if (event.type === "text") content += event.text;
            else calls.add(event.call);
          }
        }
      } finally {
        // The caller went away mid-stream: close the provider request and free the slot.
        await run.return(undefined as never).catch(() => undefined);
      }
    },
  };
}

function response(tier: string, r: RunResult, content: string, toolCalls: readonly ToolCall[]): ExecuteResponse {
  return create(ExecuteResponseSchema, {
    tier,
    model: r.deployment.model,
    provider: r.deployment.provider,
    deployment: r.deployment.id,
    content,
    toolCalls: toolCalls.map((c) => ({ id: c.id, name: c.name, argumentsJson: c.arguments })),
    finishReason: r.finishReason,
    usage: {
      promptTokens: r.promptTokens,
      completionTokens: r.completionTokens,
      totalTokens: r.promptTokens + r.completionTokens,
      estimated: r.usageEstimated,
    },
    costUsd: r.costUsd,
    timings: {
      ttftUs: BigInt(Math.round(r.ttftMs * 1_000)),
      totalUs: BigInt(Math.round(r.totalMs * 1_000)),
      providerUs: BigInt(Math.round(r.providerMs * 1_000)),
    },
    attempts: r.attempts,
    cached: r.cached,
    hedged: r.hedged,
    continuations: r.continuations,
  });
}

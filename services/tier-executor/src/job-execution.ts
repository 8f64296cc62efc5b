import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CompleteResponseSchema, type CompleteResponse, type Job } from "@tiermesh/proto";
import { checkInput } from "./input-check.js";
import type { RunContext, TierRunner } from "./tier-runner.js";
import { ToolCallAssembly } from "./tool-call-assembly.js";

const us = (ms: number) => BigInt(Math.round(ms * 1_000));

/**
 * Serves one job on this tier as the Execute RPC serves a request (the tier's prompt,
 * bulkhead, retries, hedging, breakers), collecting the whole answer into the response a
 * synchronous caller of the router would get.
 */
export async function executeJob(runner: TierRunner, job: Job, ctx: RunContext): Promise<CompleteResponse> {
  if (!job.input || job.input.messages.length === 0)
    throw new ConnectError("input.messages: at least one message is required", Code.InvalidArgument);
  checkInput(job.input);
  const run = runner.run(
    { input: job.input, probe: false, tenant: job.tenant, maxAttempts: 0, promptTokens: job.promptTokens, requestedTier: job.tier },
    ctx,
  );
  let content = "";
  const calls = new ToolCallAssembly();
  for (;;) {
    const step = await run.next();
    if (!step.done) {
      if (step.value.type === "text") content += step.value.text;
      else if (step.value.type === "tool_call") calls.add(step.value.call);
      continue;
    }
    const r = step.value;
    return create(CompleteResponseSchema, {
      id: job.id,
      content,
      finishReason: r.finishReason,
      routing: {
        requestedTier: job.tier,
        servedTier: job.tier,
        reasons: [...job.reasons, `served as an asynchronous job on ${job.tier}`],
        tierAttempts: 1,
        providerAttempts: r.attempts,
        cached: r.cached,
        continuations: r.continuations,
      },
      model: r.deployment.model,
      provider: r.deployment.provider,
      usage: {
        promptTokens: r.promptTokens,
        completionTokens: r.completionTokens,
        totalTokens: r.promptTokens + r.completionTokens,
        estimated: r.usageEstimated,
      },
      costUsd: r.costUsd,
      timings: { ttftUs: us(r.ttftMs), totalUs: us(r.totalMs), providerUs: us(r.providerMs) },
      toolCalls: calls.calls.map((c) => ({ id: c.id, name: c.name, argumentsJson: c.arguments })),
    });
  }
}

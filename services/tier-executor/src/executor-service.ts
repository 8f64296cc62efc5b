import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  ExecuteResponseSchema,
  TierExecutorService,
  type ExecuteRequest,
  type ExecuteResponse,
} from "@tiermesh/proto";
import { deadlineFrom } from "@tiermesh/runtime";
import type { RunResult, TierRunner } from "./tier-runner.js";

export interface TierExecutorServiceDeps {
  tierName: string;
  runner: TierRunner;
  /** Deadline for calls that carry none. */
  defaultTimeoutMs: number;
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
    if (req.input.tools.length > 0) {
      // Tool calls cannot be returned through the protocol yet; refusing beats silently dropping them.
      throw new ConnectError("input.tools: tool calling is not supported yet", Code.Unimplemented);
    }
    return req.input;
  };
  const start = (req: ExecuteRequest, ctx: HandlerContext) => {
    const input = validate(req);
    const deadline = deadlineFrom(ctx.timeoutMs(), deps.defaultTimeoutMs);
    return deps.runner.run(
      { input, probe: req.probe, tenant: req.tenant, maxAttempts: req.maxAttempts, deployment: req.deployment || undefined },
      { deadline, signal: ctx.signal },
    );
  };
  return {
    async execute(req, ctx) {
      const run = start(req, ctx);
      let content = "";
      for (;;) {
        const step = await run.next();
        if (step.done) return response(deps.tierName, step.value, content);
        content += step.value;
      }
    },
    async *executeStream(req, ctx) {
      const run = start(req, ctx);
      try {
        for (;;) {
          const step = await run.next();
          if (step.done) {
            yield { event: { case: "done", value: response(deps.tierName, step.value, "") } };
            return;
          }
          yield { event: { case: "delta", value: step.value } };
        }
      } finally {
        // The caller went away mid-stream: close the provider request and free the slot.
        await run.return(undefined as never).catch(() => undefined);
      }
    },
  };
}

function response(tier: string, r: RunResult, content: string): ExecuteResponse {
  return create(ExecuteResponseSchema, {
    tier,
    model: r.deployment.model,
    provider: r.deployment.provider,
    deployment: r.deployment.id,
    content,
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
  });
}

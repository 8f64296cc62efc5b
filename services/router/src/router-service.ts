import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { TierLadder } from "@tiermesh/config";
import {
  ClassifierService,
  CompleteResponseSchema,
  RouterService,
  TierExecutorService,
  type CompleteRequest,
  type CompleteResponse,
  type ExecuteResponse,
} from "@tiermesh/proto";
import { deadlineFrom } from "@tiermesh/runtime";
import type { ApiKeyAuth } from "./api-key-auth.js";
import { planRoute } from "./route-plan.js";
import type { TierStatusView } from "./tier-status-table.js";

export interface RouterServiceDeps {
  auth: ApiKeyAuth;
  classifier: Client<typeof ClassifierService>;
  executors: ReadonlyMap<string, Client<typeof TierExecutorService>>;
  ladder: TierLadder;
  fallbackOf: (tier: string) => string | undefined;
  statusOf: (tier: string) => TierStatusView | undefined;
  defaultTimeoutMs: number;
}

/** Errors after which another tier may still serve the request. */
const FALLBACK_CODES = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Internal, Code.Unknown]);
/** Below this much time left, no further tier is tried. */
const MIN_FALLBACK_MS = 20;

export function createRouterService(deps: RouterServiceDeps): ServiceImpl<typeof RouterService> {
  async function prepare(req: CompleteRequest, ctx: HandlerContext) {
    const started = performance.now();
    const deadline = deadlineFrom(ctx.timeoutMs(), deps.defaultTimeoutMs);
    const tenant = deps.auth.tenantOf(ctx.requestHeader.get("authorization"));
    if (!req.input) throw new ConnectError("input: required", Code.InvalidArgument);
    const c = await deps.classifier.classify({ tenant, input: req.input }, { signal: ctx.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
    const plan = planRoute({ tier: c.tier, minTier: c.minTier }, deps.ladder, deps.fallbackOf, deps.statusOf);
    const id = randomUUID();
    const call = (tier: string) => ({
      request: { tier, requestId: id, tenant, input: req.input! },
      options: { signal: ctx.signal, timeoutMs: Math.max(1, deadline - Date.now()) },
    });
    /** Records a failed tier; returns true when the next tier should be tried. */
    const failed = (tier: string, cause: unknown, index: number): boolean => {
      const err = ConnectError.from(cause);
      const more = index + 1 < plan.tiers.length;
      if (!more || ctx.signal.aborted || !FALLBACK_CODES.has(err.code) || deadline - Date.now() < MIN_FALLBACK_MS) return false;
      reasons.push(`${tier} failed in-request (${Code[err.code]}: ${err.rawMessage}); fell back to ${plan.tiers[index + 1]}`);
      return true;
    };
    const reasons = [...c.reasons, ...plan.reasons];
    const respond = (r: ExecuteResponse, attempts: number, content: string, ttftUs: bigint): CompleteResponse =>
      create(CompleteResponseSchema, {
        id,
        content,
        finishReason: r.finishReason,
        routing: { requestedTier: c.tier, servedTier: r.tier, reasons, ruleIds: c.ruleIds, tierAttempts: attempts },
        model: r.model,
        provider: r.provider,
        usage: r.usage,
        costUsd: r.costUsd,
        timings: {
          ttftUs,
          totalUs: BigInt(Math.round((performance.now() - started) * 1_000)),
          providerUs: r.timings?.providerUs ?? 0n,
        },
      });
    const sinceStartUs = () => BigInt(Math.round((performance.now() - started) * 1_000));
    return { plan, call, failed, respond, sinceStartUs };
  }

  const executor = (tier: string) => {
    const client = deps.executors.get(tier);
    if (!client) throw new ConnectError(`no executor configured for tier "${tier}"`, Code.Internal);
    return client;
  };

  return {
    async complete(req, ctx) {
      const { plan, call, failed, respond, sinceStartUs } = await prepare(req, ctx);
      for (let i = 0; ; i++) {
        const tier = plan.tiers[i]!;
        const { request, options } = call(tier);
        try {
          const r = await executor(tier).execute(request, options);
          return respond(r, i + 1, r.content, sinceStartUs());
        } catch (cause) {
          if (!failed(tier, cause, i)) throw ConnectError.from(cause);
        }
      }
    },
    async *completeStream(req, ctx) {
      const { plan, call, failed, respond, sinceStartUs } = await prepare(req, ctx);
      for (let i = 0; ; i++) {
        const tier = plan.tiers[i]!;
        const { request, options } = call(tier);
        let ttftUs: bigint | undefined;
        try {
          for await (const msg of executor(tier).executeStream(request, options)) {
            if (msg.event.case === "delta") {
              ttftUs ??= sinceStartUs();
              yield { event: { case: "delta", value: msg.event.value } };
            } else if (msg.event.case === "done") {
              yield { event: { case: "done", value: respond(msg.event.value, i + 1, "", ttftUs ?? sinceStartUs()) } };
              return;
            }
          }
          throw new ConnectError(`tier ${tier}: stream ended without a result`, Code.Unavailable);
        } catch (cause) {
          // Once text reached the caller, switching tiers would splice two answers: fail instead.
          if (ttftUs !== undefined || !failed(tier, cause, i)) throw ConnectError.from(cause);
        }
      }
    },
  };
}

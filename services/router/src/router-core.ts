import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import {
  ExecuteStreamResponseSchema,
  type CompleteResponse,
  type CompletionInput,
  type ExecuteResponse,
  type ExecuteStreamResponse,
  type TierExecutorService,
  type ToolCallDelta,
} from "@tiermesh/proto";
import type { CompiledPolicy, ModelEntry } from "@tiermesh/policy";
import { deadlineFrom, HedgeBudget } from "@tiermesh/runtime";
import type { Context, Tracer } from "@tiermesh/telemetry";
import type { ApiKeyAuth } from "./api-key-auth.js";
import { promptTokensOf, type ContextFit } from "./context-fit.js";
import type { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { RouteRequest } from "./route-request.js";
import { RouteTrace } from "./route-trace.js";
import type { RoutingPolicy } from "./routing-policy.js";
import type { SpendLedger } from "./spend-ledger.js";
import { raceTiers, type TierCalls } from "./tier-race.js";

export interface RouterCoreDeps {
  /** Current authenticator; swapped on config reload. */
  auth: () => ApiKeyAuth;
  /** Classifies a request locally with the classifier's published policy (and lists model names); undefined until it arrives. */
  classify: () => CompiledPolicy | undefined;
  executors: ReadonlyMap<string, Client<typeof TierExecutorService>>;
  /** Each tier's hedge settings: a tier that hedges may hedge on the next tier. */
  tiers: Config["tiers"];
  policy: RoutingPolicy;
  /** Fits the routing plan to the tiers' context windows. */
  context: ContextFit;
  /** Month-to-date spend, so tenants over budget are not promoted. */
  spend: SpendLedger;
  /** Learns from every executor call, for when tier status is stale. */
  passive: PassiveTierBreaker;
  defaultTimeoutMs: number;
  /** Receives every finished request (requested tier, served tier, code, seconds). */
  onFinished?: (requested: string, served: string, code: string, seconds: number) => void;
  /** Receives every answer as the caller gets it (timings, usage, model). */
  onAnswered?: (response: CompleteResponse) => void;
  /** Provider attempts one request may make in all, across tiers. */
  maxAttempts: number;
  /** The router's tracer; undefined while tracing is off. */
  tracer?: Tracer | undefined;
}

/** One call as the edges (RPC, HTTP) hand it over. */
export interface RouteCall {
  input: CompletionInput | undefined;
  authorization: string | null;
  /** The caller's timeout, if any. */
  timeoutMs: number | undefined;
  signal: AbortSignal;
  /** The edge's span (HTTP or RPC server span) for this call, when traced. */
  trace?: Context | undefined;
}

/** Where a request would be served: its tenant and the tier the classifier assigned. */
export interface Placement {
  tenant: string;
  tier: string;
  promptTokens: number;
  reasons: string[];
}

export type StreamEvent = { case: "delta"; value: string } | { case: "toolCall"; value: ToolCallDelta } | { case: "done"; value: CompleteResponse };

/**
 * The routing of one request, shared by every edge: authenticate, classify, order the
 * tiers, then serve from them in order (in-request fallback and cross-tier hedging while
 * no text reached the caller).
 */
export class RouterCore {
  private readonly calls: TierCalls;

  constructor(private readonly deps: RouterCoreDeps) {
    const budgets = new Map(Object.entries(deps.tiers).map(([name, t]) => [name, new HedgeBudget(t.hedge.max_extra_ratio)]));
    this.calls = {
      open: (tier, request, options, streamed) => {
        const client = this.executor(tier);
        return streamed ? client.executeStream(request, options) : unaryAsStream(client.execute(request, options));
      },
      hedges: (tier) => deps.tiers[tier]?.hedge.enabled ?? false,
      deposit: (tier) => budgets.get(tier)?.deposit(),
      tryHedge: (tier) => budgets.get(tier)?.tryHedge() ?? false,
      continues: (tier) => deps.tiers[tier]?.continuation.enabled ?? false,
    };
  }

  async complete(call: RouteCall): Promise<CompleteResponse> {
    const r = this.prepare(call);
    try {
      for await (const event of raceTiers(r, this.calls, true)) {
        if (event.case === "done") return r.respond(event.value, event.tierAttempts, event.value.content, event.ttftUs);
      }
      throw new ConnectError("no tier gave a result", Code.Internal);
    } finally {
      r.done();
    }
  }

  async *completeStream(call: RouteCall): AsyncGenerator<StreamEvent> {
    const r = this.prepare(call);
    try {
      for await (const event of raceTiers(r, this.calls, false)) {
        if (event.case === "delta" || event.case === "toolCall") yield event;
        else yield { case: "done", value: r.respond(event.value, event.tierAttempts, "", event.ttftUs) };
      }
    } finally {
      r.done();
    }
  }

  /** The tenant of a call's API key, or throws UNAUTHENTICATED. */
  tenantOf(authorization: string | null): string {
    return this.deps.auth().tenantOf(authorization);
  }

  /**
   * Authenticates and classifies a request without serving it (asynchronous jobs): the tier
   * the classifier assigns, within the tenant's plan, as for any request.
   */
  place(authorization: string | null, input: CompletionInput): Placement {
    const tenant = this.deps.auth().tenantOf(authorization);
    const classification = this.policyNow()(tenant, input, this.deps.defaultTimeoutMs);
    return { tenant, tier: classification.tier, promptTokens: classification.promptTokens, reasons: classification.reasons };
  }

  /** The model names the caller's plan may use (see ModelCatalog). */
  models(authorization: string | null): ModelEntry[] {
    const tenant = this.deps.auth().tenantOf(authorization);
    return this.policyNow().models(tenant);
  }

  private policyNow(): CompiledPolicy {
    const policy = this.deps.classify();
    if (!policy) throw new ConnectError("no routing policy yet: the classifier has not answered since this router started", Code.Unavailable);
    return policy;
  }

  private executor(tier: string) {
    const client = this.deps.executors.get(tier);
    if (!client) throw new ConnectError(`no executor configured for tier "${tier}"`, Code.Internal);
    return client;
  }

  private prepare(call: RouteCall): RouteRequest {
    const { deps } = this;
    const traced = RouteTrace.start(deps.tracer, call.trace, (tier) => deps.tiers[tier]?.rank ?? 0);
    try {
      return this.route(call, traced);
    } catch (cause) {
      const err = ConnectError.from(cause);
      traced?.end([], err, Code[err.code]);
      throw cause;
    }
  }

  private route(call: RouteCall, traced: RouteTrace | undefined): RouteRequest {
    const { deps } = this;
    const started = performance.now();
    const deadline = deadlineFrom(call.timeoutMs, deps.defaultTimeoutMs);
    if (call.signal.aborted) throw ConnectError.from(call.signal.reason, Code.Canceled);
    const tenant = deps.auth().tenantOf(call.authorization);
    const input = call.input;
    if (!input) throw new ConnectError("input: required", Code.InvalidArgument);
    const classification = this.policyNow()(tenant, input, Math.max(0, deadline - Date.now()));
    const plan = deps.policy.plan({
      tier: classification.tier,
      minTier: classification.minTier,
      maxTier: classification.maxTier,
      userKey: `${tenant}:${input.user}`,
      anonymous: input.user === "",
      overBudget: deps.spend.overBudget(tenant),
    });
    const range = { requested: classification.tier, minTier: classification.minTier, maxTier: classification.maxTier };
    const prompt = promptTokensOf(classification, input.messages.map((m) => m.content));
    const demand = { prompt, askedMaxTokens: input.maxTokens, tenant };
    let fitted;
    try {
      fitted = deps.context.plan(plan.tiers, range, demand);
    } catch (cause) {
      plan.done();
      throw cause;
    }
    const context = { fit: deps.context, range, demand };
    const routed = { ...plan, tiers: fitted.tiers, reasons: [...plan.reasons, ...fitted.reasons] };
    // The request's own signal follows the caller's until the request is over, and no longer:
    // edges abort theirs when a call ends, which must not reach executor calls already done.
    const controller = new AbortController();
    const forward = () => controller.abort(call.signal.reason);
    call.signal.addEventListener("abort", forward, { once: true });
    const release = () => call.signal.removeEventListener("abort", forward);
    const init = { tenant, input, classification, plan: routed, deadline, signal: controller.signal, started, release, context, trace: traced };
    const request = new RouteRequest(deps, init);
    traced?.decided(request.id, classification, routed.tiers);
    return request;
  }
}

async function* unaryAsStream(response: Promise<ExecuteResponse>): AsyncGenerator<ExecuteStreamResponse> {
  yield create(ExecuteStreamResponseSchema, { event: { case: "done", value: await response } });
}

import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { TierLadder, type Config } from "@tiermesh/config";
import {
  BUDGET_EXHAUSTED,
  ERROR_REASON_HEADER,
  RETRY_AFTER_HEADER,
  ExecuteStreamResponseSchema,
  type CompleteResponse,
  type CompletionInput,
  type ExecuteResponse,
  type ExecuteStreamResponse,
  type TierExecutorService,
  type ToolCallDelta,
  type UsageRecord,
} from "@tiermesh/proto";
import { dayEnd, monthEnd } from "@tiermesh/ledger";
import type { Classification, CompiledPolicy, ModelEntry } from "@tiermesh/policy";
import { CallAbortController, deadlineFrom, HedgeBudget } from "@tiermesh/runtime";
import type { Context, Tracer } from "@tiermesh/telemetry";
import type { ApiKeyAuth } from "./api-key-auth.js";
import { promptTokensOf, type ContextFit } from "./context-fit.js";
import type { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { rateLimitError } from "./rate-limit-error.js";
import type { RateDecision, RateLimiter } from "./rate-limiter.js";
import { RouteRequest, type RouteRequestDeps } from "./route-request.js";
import { RouteTrace } from "./route-trace.js";
import type { RoutingPolicy } from "./routing-policy.js";
import type { BudgetGuard } from "./budget-guard.js";
import type { BudgetVerdict } from "./budget-verdict.js";
import { estimateCostUsd } from "./cost-estimate.js";
import { failedRecord, type UsageHeader } from "./usage-record.js";
import { raceTiers, type TierCalls } from "./tier-race.js";
import { chargedTokens, estimatedPromptTokens } from "./token-charge.js";

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
  /** Budgets: reserves each request's estimated cost and says what the tenant's spend allows. */
  budget?: BudgetGuard | undefined;
  /** Receives the usage record of every finished request (the ledger). */
  usage?: ((record: UsageRecord) => void) | undefined;
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
  /** Tenants' requests and tokens per minute, shared by the router replicas; absent = none enforced. */
  limiter?: RateLimiter;
  /** Receives every rate-limit decision about a tenant that has limits. */
  onRateDecision?: (tenant: string, decision: RateDecision) => void;
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

/** The tiers a request may use once its tenant's budget has had its say. */
interface BudgetedRange {
  tier: string;
  minTier: string;
  maxTier: string;
  /** Reasons for a tier lowered by budget pacing. */
  paced: string[];
  /** Set when the budget stops promotions: why. */
  noPromotion: string | undefined;
}

/** Where a request would be served: its tenant and the tier the classifier assigned. */
export interface Placement {
  tenant: string;
  tier: string;
  promptTokens: number;
  reasons: string[];
}

export type StreamEvent =
  | { case: "delta"; value: string }
  | { case: "toolCall"; value: ToolCallDelta }
  | { case: "done"; value: CompleteResponse };

/**
 * The routing of one request, shared by every edge: authenticate, classify, order the
 * tiers, then serve from them in order (in-request fallback and cross-tier hedging while
 * no text reached the caller).
 */
export class RouterCore {
  private readonly calls: TierCalls;
  private readonly ladder: TierLadder;
  private readonly requestDeps: RouteRequestDeps;

  constructor(private readonly deps: RouterCoreDeps) {
    this.ladder = new TierLadder(deps.tiers);
    this.requestDeps = { ...deps, unrecorded: (id, tenant) => deps.budget?.release(id, tenant) };
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
    const r = await this.prepare(call);
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
    const r = await this.prepare(call);
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
    return this.placeFor(this.deps.auth().tenantOf(authorization), input);
  }

  /**
   * Classifies a request of `tenant` without serving it, as `place` does after authentication.
   * The tenant must come from what an authenticated caller stored (a batch record), never from
   * a request: this path checks no key. An unknown tenant (removed from the config) is refused.
   */
  placeFor(tenant: string, input: CompletionInput): Placement {
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
    if (!policy)
      throw new ConnectError("no routing policy yet: the classifier has not answered since this router started", Code.Unavailable);
    return policy;
  }

  /**
   * Counts the request against its tenant's rate limits, or refuses it (RESOURCE_EXHAUSTED with a
   * retry-after). Only requests that passed authentication and classification count.
   */
  private admit(tenant: string, input: CompletionInput, contents: readonly string[], classification: Classification): void {
    const limiter = this.deps.limiter;
    if (!limiter) return;
    const tier = this.deps.tiers[classification.tier];
    const decision = limiter.admit(tenant, (limits) =>
      chargedTokens(tier, estimatedPromptTokens(contents), input.maxTokens, limits.outputTokensEstimate),
    );
    if (!decision.admitted || decision.cost) this.deps.onRateDecision?.(tenant, decision);
    if (!decision.admitted) throw rateLimitError(decision);
  }

  private executor(tier: string) {
    const client = this.deps.executors.get(tier);
    if (!client) throw new ConnectError(`no executor configured for tier "${tier}"`, Code.Internal);
    return client;
  }

  /**
   * What the tenant's budget makes of the classified range: refused (throws RESOURCE_EXHAUSTED,
   * recorded), capped by a pacing step (the reason says so), or promotions stopped.
   */
  private async budgeted(
    id: string,
    classification: Classification,
    input: CompletionInput,
    promptBound: number,
    usage: UsageHeader,
    started: number,
  ): Promise<BudgetedRange> {
    const { deps } = this;
    const range: BudgetedRange = {
      tier: classification.tier,
      minTier: classification.minTier,
      maxTier: classification.maxTier,
      paced: [],
      noPromotion: undefined,
    };
    if (!deps.budget) return range;
    // The prompt's upper bound (its UTF-8 length) rather than its count: no tokenizer on this path.
    const verdict = await deps.budget.admit(id, usage.tenant, () =>
      estimateCostUsd(deps.tiers, this.ladder, range.maxTier, usage.tenant, promptBound, input.maxTokens),
    );
    if (verdict?.refuse) {
      const err = budgetRefusal(verdict.refuse);
      deps.usage?.(failedRecord(usage, err, [...classification.reasons, verdict.refuse.message], performance.now() - started, true));
      throw err;
    }
    const cap = verdict?.maxTier;
    if (cap) {
      if (this.ladder.above(range.tier, cap.tier)) {
        range.tier = cap.tier;
        range.paced.push(`${cap.why} (entitled to ${classification.tier})`);
      }
      if (this.ladder.above(range.maxTier, cap.tier)) range.maxTier = cap.tier;
      if (this.ladder.above(range.minTier, cap.tier)) range.minTier = cap.tier;
    }
    range.noPromotion = verdict?.noPromotion;
    return range;
  }

  private async prepare(call: RouteCall): Promise<RouteRequest> {
    const { deps } = this;
    const traced = RouteTrace.start(deps.tracer, call.trace, (tier) => deps.tiers[tier]?.rank ?? 0);
    try {
      return await this.route(call, traced);
    } catch (cause) {
      const err = ConnectError.from(cause);
      traced?.end([], err, Code[err.code]);
      throw cause;
    }
  }

  private async route(call: RouteCall, traced: RouteTrace | undefined): Promise<RouteRequest> {
    const { deps } = this;
    const started = performance.now();
    const deadline = deadlineFrom(call.timeoutMs, deps.defaultTimeoutMs);
    if (call.signal.aborted) throw ConnectError.from(call.signal.reason, Code.Canceled);
    const tenant = deps.auth().tenantOf(call.authorization);
    const input = call.input;
    if (!input) throw new ConnectError("input: required", Code.InvalidArgument);
    const classification = this.policyNow()(tenant, input, Math.max(0, deadline - Date.now()));
    const contents = input.messages.map((m) => m.content);
    this.admit(tenant, input, contents, classification);
    const id = randomUUID();
    const usage: UsageHeader = {
      requestId: id,
      tenant,
      user: input.user,
      plan: classification.plan,
      entitledTier: classification.tier,
      requestedTier: classification.tier,
    };
    const prompt = promptTokensOf(classification, contents);
    const { tier, minTier, maxTier, paced, noPromotion } = await this.budgeted(id, classification, input, prompt.bound, usage, started);
    usage.requestedTier = tier;
    const plan = deps.policy.plan({
      tier,
      minTier,
      maxTier,
      userKey: `${tenant}:${input.user}`,
      anonymous: input.user === "",
      overBudget: noPromotion,
    });
    plan.reasons.unshift(...paced);
    const range = { requested: tier, minTier, maxTier };
    const demand = { prompt, askedMaxTokens: input.maxTokens, tenant };
    let fitted;
    try {
      fitted = deps.context.plan(plan.tiers, range, demand);
    } catch (cause) {
      plan.done();
      deps.budget?.release(id, tenant);
      const err = ConnectError.from(cause);
      deps.usage?.(failedRecord(usage, err, [...classification.reasons, ...plan.reasons], performance.now() - started));
      throw cause;
    }
    const context = { fit: deps.context, range, demand };
    const routed = { ...plan, tiers: fitted.tiers, reasons: [...plan.reasons, ...fitted.reasons] };
    // The request's own signal follows the caller's until the request is over, and no longer:
    // edges abort theirs when a call ends, which must not reach executor calls already done.
    const controller = new CallAbortController();
    const forward = () => controller.abort(call.signal.reason);
    call.signal.addEventListener("abort", forward, { once: true });
    // The caller may have gone while the budget was reserved.
    if (call.signal.aborted) forward();
    const release = () => call.signal.removeEventListener("abort", forward);
    const init = {
      id,
      usage,
      tenant,
      input,
      classification,
      plan: routed,
      deadline,
      signal: controller.signal,
      started,
      release,
      context,
      trace: traced,
    };
    const request = new RouteRequest(this.requestDeps, init);
    traced?.decided(request.id, classification, routed.tiers);
    return request;
  }
}

/** RESOURCE_EXHAUSTED naming the budget, with Retry-After at the end of its period (HTTP 429 at the edge). */
function budgetRefusal(refuse: NonNullable<BudgetVerdict["refuse"]>): ConnectError {
  const now = Date.now();
  const end = refuse.period === "day" ? dayEnd(now) : monthEnd(now);
  const metadata = new Headers({ [ERROR_REASON_HEADER]: BUDGET_EXHAUSTED, [RETRY_AFTER_HEADER]: String(Math.ceil((end - now) / 1_000)) });
  return new ConnectError(refuse.message, Code.ResourceExhausted, metadata);
}

async function* unaryAsStream(response: Promise<ExecuteResponse>): AsyncGenerator<ExecuteStreamResponse> {
  yield create(ExecuteStreamResponseSchema, { event: { case: "done", value: await response } });
}

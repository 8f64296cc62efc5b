import { createContextValues, type ContextValues } from "@connectrpc/connect";
import type { Classification } from "@tiermesh/policy";
import type { CompleteResponse } from "@tiermesh/proto";
import { TRACE_CONTEXT } from "@tiermesh/runtime";
import { endSpan, ROOT_CONTEXT, SpanKind, Tiermesh, trace, type Context, type Span, type Tracer } from "@tiermesh/telemetry";

/**
 * The router's span for one request (`route`): the tier decision as attributes, the parent of
 * every executor call the request makes. Absent while tracing is off.
 */
export class RouteTrace {
  private readonly callContext: Context;
  private routed = "";
  private ended = false;

  private constructor(
    private readonly span: Span,
    parent: Context,
    private readonly rankOf: (tier: string) => number,
  ) {
    this.callContext = trace.setSpan(parent, span);
  }

  static start(tracer: Tracer | undefined, parent: Context | undefined, rankOf: (tier: string) => number): RouteTrace | undefined {
    if (!tracer) return undefined;
    const context = parent ?? ROOT_CONTEXT;
    return new RouteTrace(tracer.startSpan("route", { kind: SpanKind.INTERNAL }, context), context, rankOf);
  }

  /** Call options' context values for an executor call made for this request. */
  contextValues(): ContextValues {
    return createContextValues().set(TRACE_CONTEXT, this.callContext);
  }

  /** Who asks, what the policy says, and the tiers the request will try in order. */
  decided(requestId: string, c: Classification, tiers: readonly string[]): void {
    const routed = tiers[0] ?? "";
    this.routed = routed;
    this.span.setAttributes({
      [Tiermesh.requestId]: requestId,
      [Tiermesh.tenant]: c.tenant,
      [Tiermesh.plan]: c.plan,
      [Tiermesh.urgency]: c.urgency,
      [Tiermesh.tierRequested]: c.tier,
      [Tiermesh.tierRouted]: routed,
      [Tiermesh.tiersPlanned]: [...tiers],
      [Tiermesh.ruleIds]: c.ruleIds,
      // Sent to a better tier than the policy asked for (promotion, or a context window only it has).
      [Tiermesh.promoted]: routed !== "" && this.rankOf(routed) > this.rankOf(c.tier),
    });
  }

  /** The answer: which tier served it, why, and what it took. */
  served(r: CompleteResponse): void {
    const routing = r.routing;
    this.span.setAttributes({
      [Tiermesh.tierServed]: routing?.servedTier ?? "",
      [Tiermesh.reasons]: routing?.reasons ?? [],
      // Served by another tier than the one first tried (in-request fallback, a hedge won elsewhere).
      [Tiermesh.fallback]: (routing?.servedTier ?? "") !== this.routed,
      [Tiermesh.tierAttempts]: routing?.tierAttempts ?? 0,
      [Tiermesh.providerAttempts]: routing?.providerAttempts ?? 0,
      [Tiermesh.continuations]: routing?.continuations ?? 0,
      [Tiermesh.cached]: routing?.cached ?? false,
      [Tiermesh.costUsd]: r.costUsd,
    });
  }

  /** Ends the span; failed with `cause` when the request failed. */
  end(reasons: readonly string[], cause?: unknown, code?: string): void {
    if (this.ended) return;
    this.ended = true;
    if (cause !== undefined) this.span.setAttribute(Tiermesh.reasons, [...reasons]);
    endSpan(this.span, cause, code);
  }
}

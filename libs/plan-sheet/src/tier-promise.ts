import type { Config, PlanConfig, TierLadder } from "@tiermesh/config";

/** What the router does with a tier's requests while the tier is degraded or down. */
export type TierMove =
  | { kind: "stay" }
  /** To the first usable tier of `chain` (empty: none within the plan's range, so it stays). */
  | { kind: "fallback"; chain: string[] }
  /**
   * Up to `to` (undefined: no higher tier within the plan's ceiling), with promoted requests
   * in flight held to `share` of its capacity, and not while the tenant's monthly budget is
   * spent (`budgetGated`). Otherwise: down `otherwise` when the tier is down, else it stays.
   */
  | { kind: "promote"; to: string | undefined; share: number; budgetGated: boolean; otherwise: string[] };

export interface ModelPromise {
  model: string;
  provider: string;
  inputPerMtok: number;
  outputPerMtok: number;
  contextWindow: number | undefined;
}

/** What one tier promises a plan's requests routed to it. */
export interface TierPromise {
  tier: string;
  roles: ("ceiling" | "default" | "floor")[];
  /** Time to first token objective: `latencyTarget` of answers start within `ttftMs`. */
  ttftMs: number;
  latencyTarget: number;
  /** Share of attempts that succeed. */
  availabilityTarget: number;
  models: ModelPromise[];
  /** Tiers tried in turn, within the same request, when this one fails before the answer starts. */
  fallbackChain: string[];
  onDegraded: TierMove;
  onDown: TierMove;
  /** Completion tokens asked for when a request sets no max_tokens, and the most ever asked for. */
  defaultMaxTokens: number;
  maxTokensCap: number;
  /** An answer cut mid-stream goes on from its text on another deployment or tier. */
  continuation: boolean;
  /** After an outage, the share of traffic let back at each step, one step per `returnStepMs`. */
  returnSteps: number[];
  returnStepMs: number;
}

interface PlanRange {
  plan: PlanConfig;
  floor: string;
  defaultTier: string;
}

export function tierPromise(config: Config, ladder: TierLadder, tier: string, range: PlanRange): TierPromise {
  const t = config.tiers[tier]!;
  const routing = t.routing;
  const rank = (name: string) => ladder.rank(name);
  const floor = routing.floor !== undefined && rank(routing.floor) > rank(range.floor) ? routing.floor : range.floor;
  const chain: string[] = [];
  for (let next = t.fallback; next !== undefined && rank(next) >= rank(floor); next = config.tiers[next]!.fallback) chain.push(next);
  const move = (action: "stay" | "promote" | "fallback"): TierMove => {
    if (action === "stay") return { kind: "stay" };
    if (action === "fallback") return { kind: "fallback", chain };
    const up = routing.promote_to ?? ladder.names[ladder.names.indexOf(tier) - 1];
    const to = up !== undefined && rank(up) <= rank(range.plan.max_tier) ? up : undefined;
    return { kind: "promote", to, share: routing.promote_share, budgetGated: range.plan.budget !== undefined, otherwise: chain };
  };
  const roles: TierPromise["roles"] = [];
  if (tier === range.plan.max_tier) roles.push("ceiling");
  if (tier === range.defaultTier) roles.push("default");
  if (tier === range.floor) roles.push("floor");
  return {
    tier,
    roles,
    ttftMs: t.slo.ttft_p95_ms,
    latencyTarget: t.slo.latency_target,
    availabilityTarget: t.slo.availability_target,
    models: t.models.map((m) => ({
      model: m.model,
      provider: m.provider,
      inputPerMtok: m.price.input_per_mtok,
      outputPerMtok: m.price.output_per_mtok,
      contextWindow: m.context_window,
    })),
    fallbackChain: chain,
    onDegraded: move(routing.on_degraded),
    onDown: move(routing.on_down),
    defaultMaxTokens: t.prompt.default_max_tokens,
    maxTokensCap: t.prompt.max_tokens_cap,
    continuation: t.continuation.enabled,
    returnSteps: routing.return_steps,
    returnStepMs: routing.return_step_ms,
  };
}

import { Code, ConnectError } from "@connectrpc/connect";
import {
  contextNeed,
  contextOverhead,
  deploymentId,
  formatTokens,
  largestWindow,
  smallestWindow,
  type Config,
  type ContextNeed,
  type TierLadder,
} from "@tiermesh/config";
import { TokenCounter, type Classification } from "@tiermesh/policy";
import { CONTEXT_LENGTH_EXCEEDED, ERROR_REASON_HEADER, TierState } from "@tiermesh/proto";

/** The range a request may be served in. */
export interface ContextRange {
  /** Tier the classifier assigned; its quality floor applies. */
  requested: string;
  /** The plan's range. */
  minTier: string;
  maxTier: string;
}

/**
 * The caller's messages in tokens, counted only when a window is in question: their byte
 * length, an upper bound, settles most requests without the tokenizer.
 */
export interface PromptTokens {
  /** Upper bound of the count. */
  readonly bound: number;
  /** True when the messages have more than `n` tokens. */
  over(n: number): boolean;
  /** The classifier's count (counts on first use). */
  count(): number;
}

/** What a request asks of a context window, before a tier's system prompt and max tokens. */
export interface ContextDemandInput {
  prompt: PromptTokens;
  /** The caller's max_tokens; 0 = each tier's default. */
  askedMaxTokens: number;
  tenant: string;
}

const bounds = new TokenCounter();

/** The prompt of a classified request, in tokens as the classifier counts them. */
export function promptTokensOf(
  classification: Pick<Classification, "promptTokens" | "promptTokensOver">,
  contents: readonly string[],
): PromptTokens {
  return {
    bound: bounds.bound(contents),
    over: (n) => classification.promptTokensOver(n),
    count: () => classification.promptTokens,
  };
}

export interface FittedTiers {
  tiers: string[];
  reasons: string[];
}

/** Whether an error says the prompt plus max tokens did not fit the models tried. */
export function isContextMiss(err: ConnectError): boolean {
  return err.code === Code.InvalidArgument && err.metadata.get(ERROR_REASON_HEADER) === CONTEXT_LENGTH_EXCEEDED;
}

/**
 * Capability-aware routing on context length. A tier can take a request when one of its
 * deployments' context windows holds the request's prompt (messages plus the tier's system
 * prompt) and the completion tokens the tier asks for; a deployment without a declared window
 * can take anything. Only tiers within the plan's range (the plan's min_tier or the requested
 * tier's quality floor, whichever is higher, up to the plan's max_tier) are ever used.
 */
export class ContextFit {
  constructor(
    private readonly tiers: Config["tiers"],
    private readonly ladder: TierLadder,
    private readonly state: (tier: string) => TierState,
  ) {}

  /** The request's exact need in `tier` (counts the prompt: for messages, once a window is in question). */
  need(tier: string, demand: ContextDemandInput): ContextNeed {
    return contextNeed(this.tiers[tier]!, {
      askedMaxTokens: demand.askedMaxTokens,
      tenant: demand.tenant,
      tierName: tier,
      messageTokens: demand.prompt.count(),
    });
  }

  /** Whether `tier`'s largest window holds the request. */
  fits(tier: string, demand: ContextDemandInput): boolean {
    return this.holds(tier, largestWindow(this.tiers[tier]!).tokens, demand);
  }

  /**
   * The prompt tokens to pass to `tier`'s executor: 0 when even its smallest window holds the
   * request by the prompt's byte length (or it declares none), so nobody need count; else the count.
   */
  tokensFor(tier: string, demand: ContextDemandInput): number {
    const smallest = smallestWindow(this.tiers[tier]!);
    if (smallest === undefined || demand.prompt.bound <= smallest - this.overhead(tier, demand)) return 0;
    return demand.prompt.count();
  }

  /** The tiers the range allows, highest first. */
  allowed(range: ContextRange): string[] {
    const floorOf = this.tiers[range.requested]!.routing.floor ?? this.ladder.lowest;
    const floor = this.ladder.above(range.minTier, floorOf) ? range.minTier : floorOf;
    const low = this.ladder.rank(floor);
    const high = this.ladder.rank(range.maxTier);
    return this.ladder.names.filter((t) => this.ladder.rank(t) >= low && this.ladder.rank(t) <= high);
  }

  /**
   * Fits the routing plan's tiers to the request before any call. When the plan's first tier
   * can take it, the plan stands, less the tiers that cannot. Otherwise the request goes to the
   * nearest allowed tier above that can (not down ones first: a larger model is usually a
   * higher tier), then the plan's fallbacks that can, then allowed tiers below that can.
   * Throws INVALID_ARGUMENT naming the largest allowed window when no allowed tier can.
   */
  plan(planned: readonly string[], range: ContextRange, demand: ContextDemandInput): FittedTiers {
    const allowed = this.allowed(range);
    const usable = planned.filter((t) => allowed.includes(t) && this.fits(t, demand));
    const first = planned[0]!;
    const reasons: string[] = [];
    if (usable[0] === first) {
      for (const t of planned) {
        if (!usable.includes(t) && !this.fits(t, demand))
          reasons.push(`${t} is not a fallback for this request: ${this.tooLong(t, demand)}`);
      }
      return { tiers: usable, reasons: [...this.skippedDeployments(first, demand), ...reasons] };
    }
    const tiers = this.ordered(first, allowed, usable, (t) => this.fits(t, demand));
    if (tiers.length === 0) throw this.noFit(allowed, demand);
    reasons.push(`${this.tooLong(first, demand)}; routed to ${tiers[0]} (${this.windowText(tiers[0]!)})`);
    return { tiers, reasons: [...reasons, ...this.skippedDeployments(tiers[0]!, demand)] };
  }

  /** Says which of the tier's deployments its executor will skip because their windows are too small. */
  private skippedDeployments(tier: string, demand: ContextDemandInput): string[] {
    const small = this.tiers[tier]!.models.filter((m) => !this.holds(tier, m.context_window, demand));
    if (small.length === 0) return [];
    const need = this.need(tier, demand);
    const list = small.map((m) => `${deploymentId(m)} (${formatTokens(m.context_window!)} tokens)`).join(", ");
    return [`${tier} serves it from its larger deployments: ${formatTokens(need.total)} tokens do not fit ${list}`];
  }

  /**
   * `missed` refused the request for its length although its declared windows should have held
   * it: the allowed tiers not yet begun whose largest window is larger (or undeclared), in the
   * same order as `plan` would choose them from `missed`. Empty when there is none.
   */
  afterMiss(
    begun: readonly string[],
    remaining: readonly string[],
    missed: string,
    range: ContextRange,
    demand: ContextDemandInput,
  ): string[] {
    const missedWindow = largestWindow(this.tiers[missed]!).tokens;
    const larger = (t: string) => {
      const w = largestWindow(this.tiers[t]!).tokens;
      return !begun.includes(t) && this.fits(t, demand) && (w === undefined || missedWindow === undefined || w > missedWindow);
    };
    const allowed = this.allowed(range);
    return this.ordered(
      missed,
      allowed,
      remaining.filter((t) => allowed.includes(t) && larger(t)),
      larger,
    );
  }

  /** The final answer when a tier refused for length and no allowed tier is left to try. */
  refusedEverywhere(missed: string, err: ConnectError, demand: ContextDemandInput): ConnectError {
    const need = this.need(missed, demand);
    return new ConnectError(
      `prompt of ${formatTokens(need.promptTokens)} tokens plus max_tokens ${formatTokens(need.maxTokens)} does not fit any model allowed for this plan: ` +
        `the largest that could take it refused it (${err.rawMessage})`,
      Code.InvalidArgument,
      { [ERROR_REASON_HEADER]: CONTEXT_LENGTH_EXCEEDED },
    );
  }

  /** Nearest tiers above `pivot` that take it (healthy first), then `preferred` in order, then nearest below, then down ones above. */
  private ordered(pivot: string, allowed: readonly string[], preferred: readonly string[], takes: (t: string) => boolean): string[] {
    const rank = this.ladder.rank(pivot);
    const above = allowed.filter((t) => this.ladder.rank(t) > rank && takes(t)).reverse();
    const below = allowed.filter((t) => this.ladder.rank(t) < rank && takes(t));
    const down = (t: string) => this.state(t) === TierState.DOWN;
    const out: string[] = [];
    for (const t of [...above.filter((t) => !down(t)), ...preferred, ...below, ...above]) if (!out.includes(t)) out.push(t);
    return out;
  }

  private noFit(allowed: readonly string[], demand: ContextDemandInput): ConnectError {
    // Every allowed tier declares its windows (an undeclared one would fit): name the largest.
    let best = allowed[0]!;
    for (const t of allowed) if (largestWindow(this.tiers[t]!).tokens! > largestWindow(this.tiers[best]!).tokens!) best = t;
    const need = this.need(best, demand);
    const w = largestWindow(this.tiers[best]!);
    return new ConnectError(
      `prompt of ${formatTokens(need.promptTokens)} tokens plus max_tokens ${formatTokens(need.maxTokens)} exceeds the largest context window ` +
        `allowed for this plan (${formatTokens(w.tokens!)} tokens, model ${w.model})`,
      Code.InvalidArgument,
      { [ERROR_REASON_HEADER]: CONTEXT_LENGTH_EXCEEDED },
    );
  }

  /** Whether a window (undefined = undeclared) holds the request in `tier`. */
  private holds(tier: string, window: number | undefined, demand: ContextDemandInput): boolean {
    if (window === undefined) return true;
    const room = window - this.overhead(tier, demand);
    return room >= 0 && !demand.prompt.over(room);
  }

  private overhead(tier: string, demand: ContextDemandInput): number {
    return contextOverhead(this.tiers[tier]!, { askedMaxTokens: demand.askedMaxTokens, tenant: demand.tenant, tierName: tier }).total;
  }

  private tooLong(tier: string, demand: ContextDemandInput): string {
    const need = this.need(tier, demand);
    const w = largestWindow(this.tiers[tier]!);
    return (
      `prompt of ${formatTokens(need.promptTokens)} tokens plus max_tokens ${formatTokens(need.maxTokens)} exceeds ${tier}'s largest ` +
      `context window (${formatTokens(w.tokens ?? 0)} tokens, model ${w.model})`
    );
  }

  private windowText(tier: string): string {
    const w = largestWindow(this.tiers[tier]!);
    return w.tokens === undefined
      ? `model ${w.model} declares no context window`
      : `context window ${formatTokens(w.tokens)} tokens, model ${w.model}`;
  }
}

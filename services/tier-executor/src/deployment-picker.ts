import { formatTokens } from "@tiermesh/config";
import type { DeploymentState } from "./deployment-state.js";
import { selectDeployment, type SelectionStrategy } from "./deployment-selector.js";
import { ProviderError, type ProviderFailure } from "./providers/provider-error.js";

/**
 * Failures after which one request never goes back to the same deployment: it was not
 * answering, or it refused the prompt's length.
 */
const NO_RETURN = new Set<ProviderFailure>(["timeout", "stalled", "context_length"]);

/**
 * What one request needs of a deployment's context window, and what it has done with each
 * deployment: an attempt in flight, or how its last one ended.
 */
export class RequestAttempts {
  private readonly last = new Map<string, ProviderFailure | "running" | "ok">();
  private readonly excluded = new Map<string, string>();

  /** This request never goes to `id` (again), for the reason given. */
  exclude(id: string, why: string): void {
    this.excluded.set(id, why);
  }

  /** `contextTokens`: prompt plus completion tokens the request needs (0 = unknown, nothing skipped on size). */
  constructor(readonly contextTokens = 0) {}

  started(id: string): void {
    this.last.set(id, "running");
  }

  ended(id: string, failure: ProviderFailure | undefined): void {
    this.last.set(id, failure ?? "ok");
  }

  tried(id: string): boolean {
    return this.last.has(id);
  }

  /**
   * Whether this request may send (another) attempt to `id`: not excluded, and never tried or
   * its last attempt there is over and did not fail by not answering (timeout, stall).
   */
  mayUse(id: string): boolean {
    if (this.excluded.has(id)) return false;
    const last = this.last.get(id);
    return last === undefined || (last !== "running" && last !== "ok" && !NO_RETURN.has(last));
  }

  /** Why `id` cannot take this request's next attempt, when that is this request's doing. */
  whyNot(id: string): string | undefined {
    const excluded = this.excluded.get(id);
    if (excluded !== undefined) return excluded;
    const last = this.last.get(id);
    if (last === "running") return "already waiting on it";
    if (last === "timeout") return "timed out on this request";
    if (last === "stalled") return "stalled on this request";
    if (last === "context_length") return "refused the prompt's length";
    return undefined;
  }

  /** Whether `id`'s last attempt was refused for the prompt's length. */
  refusedLength(id: string): boolean {
    return this.last.get(id) === "context_length";
  }
}

/**
 * Chooses deployments for one request's attempts (retries and hedges included).
 *
 * Guarantees: never a deployment whose context window is smaller than the request needs, or
 * no larger than that of a deployment that refused the request's length; never one whose breaker is open, that is cooling down after a 429,
 * that stalled within `stallHoldMs` and has not answered since (not even as a half-open
 * trial: a probe it answers brings it back), or that this request may not use again (`RequestAttempts.mayUse`: in flight, or timed out
 * or stalled on it). Untried deployments first; an already-tried one only when no untried
 * one is usable. Among those, the tier's selection strategy decides.
 */
export class DeploymentPicker {
  constructor(
    private readonly states: readonly DeploymentState[],
    private readonly strategy: SelectionStrategy,
    private readonly random: () => number,
    private readonly now: () => number,
    /** A stalled deployment takes no request for this long, unless it answers again first (`stall.hold_ms`). */
    private readonly stallHoldMs = 0,
  ) {}

  /** The deployment for the next attempt, its breaker's permission taken; undefined when none is usable. */
  pick(attempts: RequestAttempts): DeploymentState | undefined {
    const usable = this.usable(attempts);
    let pool = usable.filter((s) => !attempts.tried(s.deployment.id));
    if (pool.length === 0) pool = usable;
    while (pool.length > 0) {
      const chosen = selectDeployment(
        this.strategy,
        pool.map((s) => ({ id: s.deployment.id, weight: s.deployment.weight, outstanding: s.outstanding, latencyMs: s.ttft.value })),
        this.random,
      );
      const state = pool.find((s) => s.deployment.id === chosen?.id);
      if (!state) return undefined;
      if (state.breaker.allow()) return state;
      pool = pool.filter((s) => s !== state);
    }
    return undefined;
  }

  /** Whether `pick` may find a deployment (without taking a half-open probe slot). */
  anyUsable(attempts: RequestAttempts): boolean {
    return this.usable(attempts).length > 0;
  }

  /** One line saying why each deployment is not usable for this request, e.g. `a: stalled, circuit breaker open`. */
  describe(attempts: RequestAttempts): string {
    const now = this.now();
    return this.states
      .map((s) => {
        const why: string[] = [];
        if (s.stall.stalled) why.push("stalled");
        const breaker = s.breaker.state;
        if (breaker === "open") why.push("circuit breaker open");
        else if (breaker === "half_open") why.push("circuit breaker half-open");
        if (s.coolingUntil > now) why.push(`rate limited for ${s.coolingUntil - now} ms`);
        const window = s.deployment.contextWindow;
        if (window !== undefined && !this.fits(s, attempts, this.refusedWindow(attempts))) {
          if (!attempts.refusedLength(s.deployment.id)) why.push(`context window ${formatTokens(window)} tokens too small`);
        }
        const mine = attempts.whyNot(s.deployment.id);
        if (mine && !(mine.startsWith("stalled") && s.stall.stalled)) why.push(mine);
        return `${s.deployment.id}: ${why.length > 0 ? why.join(", ") : "usable"}`;
      })
      .join("; ");
  }

  /** Why no deployment can take the request's next attempt, as the error to end it with. */
  whyNoneUsable(attempts: RequestAttempts, lastError: ProviderError | undefined, tierName: string): ProviderError {
    const tooLong = this.contextRefusal(attempts, lastError);
    if (tooLong) return tooLong;
    const cooling = this.coolingForMs();
    if (cooling !== undefined) {
      // Every usable deployment asked us to wait (429): say so, with when to retry.
      return new ProviderError("rate_limited", `every deployment of tier ${tierName} is rate limited`, { retryAfterMs: cooling });
    }
    if (lastError?.failure === "rate_limited") return lastError;
    const what = this.allStalledOrOpen()
      ? "every deployment is stalled or has an open circuit breaker"
      : "every deployment is stalled, has an open circuit breaker or did not answer this request";
    const last = lastError ? `; last error: ${lastError.message}` : "";
    return new ProviderError("server", `${what} (${this.describe(attempts)})${last}`);
  }

  /** When every deployment whose breaker allows calls is cooling down after a 429: the time until the first is usable. */
  private coolingForMs(): number | undefined {
    const now = this.now();
    const closed = this.states.filter((s) => s.breaker.state !== "open");
    if (closed.length === 0 || closed.some((s) => s.coolingUntil <= now)) return undefined;
    return Math.min(...closed.map((s) => s.coolingUntil)) - now;
  }

  /**
   * When no deployment of the tier can take the request for its length (windows too small,
   * or refused it on this request): the refusal to report, so the router tries a larger model.
   */
  contextRefusal(attempts: RequestAttempts, lastError: ProviderError | undefined): ProviderError | undefined {
    const refused = this.refusedWindow(attempts);
    if (this.states.some((s) => this.fits(s, attempts, refused))) return undefined;
    const needs = attempts.contextTokens > 0 ? ` ${formatTokens(attempts.contextTokens)} tokens (prompt plus max_tokens)` : " the request";
    const last = lastError?.failure === "context_length" ? `; last refusal: ${lastError.message}` : "";
    return new ProviderError("context_length", `no deployment's context window fits${needs} (${this.describe(attempts)})${last}`);
  }

  /** Every deployment is unusable because it stalled or its breaker is open (nothing this request did). */
  allStalledOrOpen(): boolean {
    return this.states.every((s) => s.stall.stalled || s.breaker.state === "open");
  }

  private usable(attempts: RequestAttempts): DeploymentState[] {
    const now = this.now();
    const refused = this.refusedWindow(attempts);
    return this.states.filter(
      (s) =>
        s.breaker.state !== "open" &&
        s.coolingUntil <= now &&
        !s.stall.holdsOff(this.stallHoldMs) &&
        attempts.mayUse(s.deployment.id) &&
        this.fits(s, attempts, refused),
    );
  }

  /** Whether `s` may take the request for its length: its window holds it and is larger than any that refused it. */
  private fits(s: DeploymentState, attempts: RequestAttempts, refusedWindow: number): boolean {
    if (attempts.refusedLength(s.deployment.id)) return false;
    const window = s.deployment.contextWindow;
    return window === undefined || (window >= attempts.contextTokens && window > refusedWindow);
  }

  /** The largest declared window among deployments that refused this request's length (0 = none). */
  private refusedWindow(attempts: RequestAttempts): number {
    let largest = 0;
    for (const s of this.states) {
      if (attempts.refusedLength(s.deployment.id)) largest = Math.max(largest, s.deployment.contextWindow ?? 0);
    }
    return largest;
  }
}

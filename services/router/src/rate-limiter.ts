import type { RateLimits } from "@tiermesh/config";
import { DIMENSIONS, msUntilFits, TenantUsage, type Counts, type Dimension } from "./tenant-usage.js";

export type LimitName = "requests_per_minute" | "tokens_per_minute";

const LIMIT_OF: Record<Dimension, LimitName> = { requests: "requests_per_minute", tokens: "tokens_per_minute" };

export type RateDecision =
  /** `cost` is what was counted; absent for a tenant without rate limits. */
  | { admitted: true; cost?: Counts }
  | {
      admitted: false;
      limit: LimitName;
      /** When the request would fit; undefined when it never does (larger than the limit). */
      retryAfterMs: number | undefined;
      message: string;
    };

/** How the replicas share limits right now. */
export interface SharingMode {
  /** True while reports reach the other replicas (NATS up). */
  shared: boolean;
  /** Router replicas sharing each tenant's headroom, this one included (at least 1). */
  replicas: number;
  /** Epoch ms: replicas heard since then are alive and may still use what they claimed. */
  liveSince: number;
}

export interface RateLimiterOptions {
  /** The tenant's limits in force (read per request, so a config reload applies at once). */
  limits: (tenant: string) => RateLimits | undefined;
  mode: () => SharingMode;
  /** The sync period: a request refused only because this replica's allowance is spent may come back after it. */
  syncMs: number;
  /** Called when this replica claimed a new ceiling between sync periods, which the others should hear at once. */
  onClaim?: () => void;
  windowMs?: number;
  now?: () => number;
}

/**
 * The longest a report may take to reach the other replicas for the bound to hold: NATS on a
 * LAN delivers in well under a millisecond, the rest is for a loaded event loop.
 */
const DELIVERY_MS = 20;

/**
 * Requests and tokens per minute per tenant, shared by every router replica without a round
 * trip on the request path. Each replica counts its own admissions exactly and, once per sync
 * period (see UsageExchange), claims an allowance: 1/replicas of the headroom the others have
 * not claimed (the limit, less the previous window's weighted total, less this window's
 * counts and the others' last reported ceilings). It admits only within its ceiling (counts
 * plus allowance) and reports it. Replicas that claim at the same moment each take a share of
 * what the others had left, so the ceilings together never exceed the limit, provided reports
 * arrive within DELIVERY_MS (20 ms). A replica with no requests for a tenant claims nothing, so a
 * busy one gets the headroom over a few periods.
 *
 * A claim counts each other replica at the ceiling last heard from it, which may predate that
 * replica's latest raise. Were that replica, having admitted past its older ceiling, to raise
 * again before hearing of the claim, both would take the same headroom. So a replica raises its
 * ceiling only while it has admitted no more than any ceiling it held in the last 2 ×
 * DELIVERY_MS, by when every claim made without hearing of its raises has been heard here.
 * Until then its claims may lower the ceiling but not raise it; the first request once it may
 * claims again, rather than waiting for the next period.
 *
 * One request larger than the allowance may be admitted per period from the unclaimed headroom
 * (else, near the limit or with small limits, it would never pass), after a claim made under
 * that same condition; two replicas doing so at the same moment can overshoot by one request
 * each. Without NATS each replica keeps to limit ÷ the replicas it last saw, counted on its
 * own admissions.
 */
export class RateLimiter {
  private readonly usage = new Map<string, TenantUsage>();
  private readonly windowMs: number;
  private readonly settleMs: number;
  private readonly now: () => number;

  constructor(private readonly options: RateLimiterOptions) {
    this.windowMs = options.windowMs ?? 60_000;
    // A claim made elsewhere without hearing of a change here is heard here at most two deliveries after it.
    this.settleMs = 2 * DELIVERY_MS;
    this.now = options.now ?? Date.now;
  }

  /**
   * Admits a request of `tenant` (counting it) or says why not. `tokens` is asked for only
   * when the tenant has a token limit (counting a prompt may load the tokenizer).
   */
  admit(tenant: string, tokens: (limits: RateLimits) => number): RateDecision {
    const limits = this.options.limits(tenant);
    if (limits === undefined || (limits.requestsPerMinute === undefined && limits.tokensPerMinute === undefined)) return { admitted: true };
    const caps = capsOf(limits);
    const cost: Counts = { requests: 1, tokens: limits.tokensPerMinute === undefined ? 0 : tokens(limits) };
    const now = this.now();
    const mode = this.options.mode();
    const u = this.tenant(tenant);
    u.roll(now);
    for (const d of DIMENSIONS) {
      if (cost[d] > caps[d]) {
        return {
          admitted: false,
          limit: LIMIT_OF[d],
          retryAfterMs: undefined,
          message: `request of ${cost[d]} ${d} exceeds the ${LIMIT_OF[d]} limit of ${caps[d]}`,
        };
      }
    }
    const refusal = mode.shared ? this.withinCeiling(u, cost, caps, mode, now) : this.withinLocalShare(u, cost, caps, mode.replicas, now);
    u.demand = true;
    if (refusal) return refusal;
    u.add(cost);
    return { admitted: true, cost };
  }

  /** Claims every tenant's allowance for the next sync period (nothing for tenants with no requests since the last). */
  tick(): void {
    const mode = this.options.mode();
    if (!mode.shared) return;
    const now = this.now();
    for (const [tenant, u] of this.usage) {
      const limits = this.options.limits(tenant);
      if (limits === undefined) continue;
      u.roll(now);
      this.claim(u, capsOf(limits), mode, now);
    }
  }

  /** Own counts and ceilings changed since the last call (all of them when `full`), for a report. */
  report(full: boolean): { tenant: string; window: number; counts: Counts; ceiling: Counts }[] {
    const out: { tenant: string; window: number; counts: Counts; ceiling: Counts }[] = [];
    const now = this.now();
    for (const [tenant, u] of this.usage) {
      u.roll(now);
      if (!full && !u.changed) continue;
      u.changed = false;
      for (const e of u.own()) out.push({ tenant, ...e });
    }
    return out;
  }

  /** Another replica's counts and ceiling for a tenant's window. */
  applyRemote(replica: string, tenant: string, window: number, counts: Counts, ceiling: Counts): void {
    const u = this.tenant(tenant);
    const now = this.now();
    u.roll(now);
    u.applyRemote(replica, window, counts, ceiling, now);
  }

  private tenant(name: string): TenantUsage {
    let u = this.usage.get(name);
    if (!u) {
      u = new TenantUsage(this.windowMs, this.settleMs);
      this.usage.set(name, u);
    }
    return u;
  }

  /**
   * Sets the ceiling for the next period: counts plus, if the tenant had requests, a share of the
   * unclaimed headroom. While the ceiling is not settled it may fall but not rise, no request may
   * be let through beyond it, and the first request once it has settled claims again.
   */
  private claim(u: TenantUsage, caps: Counts, mode: SharingMode, now: number): void {
    const active = u.demand;
    const settled = this.settled(u, caps, now);
    const held = u.current();
    const next = { ...held };
    for (const d of DIMENSIONS) {
      const allowance = active && caps[d] !== Infinity ? Math.max(0, this.unclaimed(u, d, caps[d], mode, now)) / mode.replicas : 0;
      const ceiling = caps[d] === Infinity ? Infinity : u.ownCur[d] + allowance;
      next[d] = settled ? ceiling : Math.min(ceiling, held[d]);
    }
    u.setCeiling(next, now);
    u.idleClaim = !active;
    u.demand = false;
    u.stretchable = settled;
    u.claimDeferred = active && !settled;
  }

  /** Whether this replica may raise its ceiling on every limited dimension (see TenantUsage.settled). */
  private settled(u: TenantUsage, caps: Counts, now: number): boolean {
    return DIMENSIONS.every((d) => caps[d] === Infinity || u.settled(d, now));
  }

  /**
   * Whether a request claims before it is checked: the first of a window here, the first since a
   * claim found no requests, or the first once a claim that could not raise the ceiling may.
   */
  private claimsFirst(u: TenantUsage, caps: Counts, now: number): boolean {
    return u.ceilingWindow !== u.window || u.idleClaim || (u.claimDeferred && this.settled(u, caps, now));
  }

  /** The headroom in the current window nobody has claimed: the limit less the previous window's weighted total, own counts and the others' ceilings. */
  private unclaimed(u: TenantUsage, d: Dimension, cap: number, mode: SharingMode, now: number): number {
    const { prev } = u.totals(d, true);
    return cap - prev * (1 - u.fraction(now)) - u.ownCur[d] - u.claimedByOthers(d, mode.liveSince);
  }

  private withinCeiling(u: TenantUsage, cost: Counts, caps: Counts, mode: SharingMode, now: number): RateDecision | undefined {
    if (this.claimsFirst(u, caps, now)) {
      // Tell the others at once rather than at the next sync period.
      u.demand = true;
      this.claim(u, caps, mode, now);
      this.options.onClaim?.();
    }
    const stretch: Dimension[] = [];
    for (const d of DIMENSIONS) {
      if (caps[d] === Infinity || u.ownCur[d] + cost[d] <= u.ceiling[d]) continue;
      if (u.stretchable && cost[d] <= this.unclaimed(u, d, caps[d], mode, now)) {
        stretch.push(d);
        continue;
      }
      const { prev, cur } = u.totals(d, true);
      const wait = msUntilFits(prev, cur, cost[d], caps[d], u.fraction(now), this.windowMs) ?? this.windowMs;
      return this.refusal(d, caps[d], prev * (1 - u.fraction(now)) + cur, cost[d], Math.max(wait, this.options.syncMs));
    }
    if (stretch.length > 0) {
      u.stretchable = false;
      const next = { ...u.ceiling };
      for (const d of stretch) next[d] = u.ownCur[d] + cost[d];
      u.setCeiling(next, now);
      this.options.onClaim?.();
    }
    return undefined;
  }

  private withinLocalShare(u: TenantUsage, cost: Counts, caps: Counts, replicas: number, now: number): RateDecision | undefined {
    for (const d of DIMENSIONS) {
      if (caps[d] === Infinity) continue;
      const share = caps[d] / replicas;
      const { prev, cur } = u.totals(d, false);
      const used = prev * (1 - u.fraction(now)) + cur;
      if (used + cost[d] <= share) continue;
      const wait = msUntilFits(prev, cur, cost[d], share, u.fraction(now), this.windowMs) ?? this.windowMs;
      return this.refusal(d, caps[d], used, cost[d], Math.max(wait, this.options.syncMs));
    }
    return undefined;
  }

  private refusal(d: Dimension, limit: number, used: number, cost: number, retryAfterMs: number): RateDecision {
    return {
      admitted: false,
      limit: LIMIT_OF[d],
      retryAfterMs,
      message: `rate limit reached on ${LIMIT_OF[d]}: limit ${limit}, used ${Math.min(limit, Math.ceil(used))} in the last minute, requested ${cost}; try again in ${Math.ceil(retryAfterMs / 1_000)} s`,
    };
  }
}

function capsOf(limits: RateLimits): Counts {
  return { requests: limits.requestsPerMinute ?? Infinity, tokens: limits.tokensPerMinute ?? Infinity };
}

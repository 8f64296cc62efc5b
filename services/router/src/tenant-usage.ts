/** Requests and tokens counted in one window. */
export interface Counts {
  requests: number;
  tokens: number;
}

export type Dimension = keyof Counts;

export const DIMENSIONS: readonly Dimension[] = ["requests", "tokens"];

export const zero = (): Counts => ({ requests: 0, tokens: 0 });

/** What another replica last reported for one window. */
interface PeerWindow {
  counts: Counts;
  /** Its counts plus the allowance it claimed; never below its counts. */
  ceiling: Counts;
}

interface Peer {
  seenAt: number;
  windows: Map<number, PeerWindow>;
}

/**
 * One tenant's consumption over fixed windows (a minute each), as one router replica knows it:
 * its own exact counts and the ceiling it claimed, and what each other replica last reported.
 * The previous window is weighed by the share of it still inside the last minute (a sliding
 * window counter), so a burst across a window edge is not let through twice.
 */
export class TenantUsage {
  /** Index of the window `ownCur` counts. */
  window = Number.NEGATIVE_INFINITY;
  ownPrev = zero();
  ownCur = zero();
  /** What this replica may admit up to in the current window (its counts plus its allowance); set with setCeiling. */
  ceiling = zero();
  /** The window `ceiling` was claimed for. */
  ceilingWindow = Number.NEGATIVE_INFINITY;
  /** Requests seen (admitted or not) since the last claim: an idle replica claims nothing. */
  demand = false;
  /** The last claim was made with no requests (it claimed nothing beyond the counts). */
  idleClaim = false;
  /** The last claim had requests but could not raise the ceiling yet (see settled). */
  claimDeferred = false;
  /**
   * A request larger than the allowance may still be let through from the unclaimed headroom this
   * period: none has been yet, and the period's claim was made with the ceiling settled (see settled).
   */
  stretchable = false;
  /** Counts or ceiling changed since the last report. */
  changed = false;
  private readonly peers = new Map<string, Peer>();
  /** Ceilings this replica held earlier in the current window, each remembered until `until`. */
  private readonly replaced: { ceiling: Counts; until: number }[] = [];

  /**
   * `settleMs`: how long after this replica changes its ceiling another replica may still claim
   * without having heard of the change, and have that claim not yet heard here (two deliveries
   * of a report).
   */
  constructor(
    private readonly windowMs: number,
    private readonly settleMs: number,
  ) {}

  /** Moves to `now`'s window. */
  roll(now: number): void {
    const w = Math.floor(now / this.windowMs);
    if (w === this.window) return;
    this.ownPrev = w === this.window + 1 ? this.ownCur : zero();
    this.ownCur = zero();
    this.window = w;
    this.changed = true;
    this.replaced.length = 0;
    for (const peer of this.peers.values()) for (const key of peer.windows.keys()) if (key < w - 1) peer.windows.delete(key);
  }

  /** How far into its window `now` is, 0..1. */
  fraction(now: number): number {
    return (now - this.window * this.windowMs) / this.windowMs;
  }

  add(cost: Counts): void {
    this.ownCur.requests += cost.requests;
    this.ownCur.tokens += cost.tokens;
    this.changed = true;
  }

  /** The ceiling in force for the current window as the others see it: never below the counts, the counts alone before a claim. */
  current(): Counts {
    if (this.ceilingWindow !== this.window) return { ...this.ownCur };
    return { requests: Math.max(this.ceiling.requests, this.ownCur.requests), tokens: Math.max(this.ceiling.tokens, this.ownCur.tokens) };
  }

  /** Claims `next` as the ceiling for the current window, remembering the one it replaces (see settled). */
  setCeiling(next: Counts, now: number): void {
    const before = this.current();
    if (this.ceilingWindow !== this.window || next.requests !== this.ceiling.requests || next.tokens !== this.ceiling.tokens)
      this.changed = true;
    if (next.requests !== before.requests || next.tokens !== before.tokens)
      this.replaced.push({ ceiling: before, until: now + this.settleMs });
    this.ceiling = { ...next };
    this.ceilingWindow = this.window;
  }

  /**
   * Whether the counts for `d` are within every ceiling this replica held in the last `settleMs`,
   * so that it may raise its ceiling again. Another replica that claimed before hearing of this
   * one's latest raise took its share counting this one at the earlier, lower ceiling; a raise
   * made here past that ceiling before that claim is heard would hand out the same headroom twice.
   * After `settleMs` every such claim has been heard and is counted among the others' ceilings.
   */
  settled(d: Dimension, now: number): boolean {
    for (let i = this.replaced.length - 1; i >= 0; i--) if (this.replaced[i]!.until <= now) this.replaced.splice(i, 1);
    return this.replaced.every((r) => this.ownCur[d] <= r.ceiling[d]);
  }

  /** Previous and current window counts for `d`: every replica's, or this one's alone. */
  totals(d: Dimension, everyone: boolean): { prev: number; cur: number } {
    let prev = this.ownPrev[d];
    let cur = this.ownCur[d];
    if (everyone) {
      for (const peer of this.peers.values()) {
        prev += peer.windows.get(this.window - 1)?.counts[d] ?? 0;
        cur += peer.windows.get(this.window)?.counts[d] ?? 0;
      }
    }
    return { prev, cur };
  }

  /**
   * What the other replicas may have admitted in the current window: the ceilings of those
   * heard since `liveSince`, the counts of those gone quiet (they admit nothing more).
   */
  claimedByOthers(d: Dimension, liveSince: number): number {
    let claimed = 0;
    for (const peer of this.peers.values()) {
      const w = peer.windows.get(this.window);
      if (w) claimed += peer.seenAt >= liveSince ? Math.max(w.ceiling[d], w.counts[d]) : w.counts[d];
    }
    return claimed;
  }

  applyRemote(replica: string, window: number, counts: Counts, ceiling: Counts, now: number): void {
    let peer = this.peers.get(replica);
    if (!peer) {
      peer = { seenAt: now, windows: new Map() };
      this.peers.set(replica, peer);
    }
    peer.seenAt = now;
    if (window >= this.window - 1) peer.windows.set(window, { counts, ceiling });
  }

  /** Own counts (and, for the current window, the ceiling) of the previous and current window, for a report. */
  own(): { window: number; counts: Counts; ceiling: Counts }[] {
    const out: { window: number; counts: Counts; ceiling: Counts }[] = [];
    if (this.ownPrev.requests > 0 || this.ownPrev.tokens > 0)
      out.push({ window: this.window - 1, counts: { ...this.ownPrev }, ceiling: { ...this.ownPrev } });
    if (Number.isFinite(this.window)) out.push({ window: this.window, counts: { ...this.ownCur }, ceiling: this.current() });
    return out;
  }
}

/**
 * Milliseconds until a request costing `cost` fits under `limit` in a sliding window with
 * totals `prev` and `cur`, `fraction` of the way through the current window, if nobody else
 * consumes meanwhile; undefined when it never fits (the cost alone is over the limit).
 */
export function msUntilFits(
  prev: number,
  cur: number,
  cost: number,
  limit: number,
  fraction: number,
  windowMs: number,
): number | undefined {
  if (cost > limit) return undefined;
  const room = limit - cur - cost;
  if (room >= 0) {
    // The previous window's weight falls as the current one goes on.
    const needed = prev > 0 ? 1 - room / prev : 0;
    return Math.max(0, (needed - fraction) * windowMs);
  }
  // In the next window this one's total becomes the weighted previous one.
  const needed = cur > 0 ? Math.max(0, 1 - (limit - cost) / cur) : 0;
  return (1 - fraction + needed) * windowMs;
}

import type { TierState, TierStatusEvent } from "@tiermesh/proto";

export interface TierStatusView {
  state: TierState;
  reason: string;
  sequence: bigint;
  atMs: number;
}

/**
 * The router's copy of tier status. Keeps the newest event per tier (by sequence) and
 * ignores status older than the TTL, so a silent monitor cannot pin a stale decision.
 */
export class TierStatusTable {
  private readonly byTier = new Map<string, TierStatusView>();
  private changes = 0;

  constructor(readonly ttlMs: number) {}

  /** Applies an event; returns true when it was newer than what the table held. */
  apply(event: TierStatusEvent): boolean {
    const held = this.byTier.get(event.tier);
    if (held && held.sequence >= event.sequence) return false;
    if (held?.state !== event.state) this.changes++;
    this.byTier.set(event.tier, { state: event.state, reason: event.reason, sequence: event.sequence, atMs: Number(event.atMs) });
    return true;
  }

  /** Current, fresh status of a tier; undefined when unknown or stale. */
  get(tier: string, now = Date.now()): TierStatusView | undefined {
    const view = this.byTier.get(tier);
    if (!view || now - view.atMs > this.ttlMs) return undefined;
    return view;
  }

  /** The newest status of a tier, however old. */
  latest(tier: string): TierStatusView | undefined {
    return this.byTier.get(tier);
  }

  /** Milliseconds since the newest status of a tier was produced; undefined when none. */
  ageMs(tier: string, now = Date.now()): number | undefined {
    const view = this.byTier.get(tier);
    return view ? now - view.atMs : undefined;
  }

  /** How many state changes were applied (for metrics and tests). */
  get changeCount(): number {
    return this.changes;
  }
}

import { TierState } from "@tiermesh/proto";
import type { PassiveTierBreaker } from "./passive-tier-breaker.js";
import type { TierStatusTable } from "./tier-status-table.js";

/** What the router believes about a tier right now, and where that belief comes from. */
export interface TierView {
  state: TierState;
  reason: string;
  source: "status" | "last-known" | "passive" | "none";
}

export interface NatsState {
  connected: boolean;
  /** Epoch ms of the last (re)connect. */
  since: number;
}

/**
 * Combines the monitor's status with the router's own experience: fresh status wins; while
 * NATS is unreachable, or reconnected too recently for new status to have arrived, the
 * last known status is kept (and said so); status gone stale while NATS is up means the
 * monitor is silent, so the router's passive breaker decides.
 */
export function tierView(tier: string, status: TierStatusTable, passive: PassiveTierBreaker, nats: NatsState, now = Date.now()): TierView {
  const fresh = status.get(tier, now);
  if (fresh) return { state: fresh.state, reason: `tier status #${fresh.sequence}: ${fresh.reason}`, source: "status" };
  const last = status.latest(tier);
  if (last && !nats.connected) {
    return {
      state: last.state,
      reason: `last known tier status #${last.sequence} (NATS unreachable): ${last.reason}`,
      source: "last-known",
    };
  }
  if (last && now - nats.since < status.ttlMs) {
    return {
      state: last.state,
      reason: `last known tier status #${last.sequence} (NATS just reconnected): ${last.reason}`,
      source: "last-known",
    };
  }
  if (passive.isOpen(tier, now))
    return { state: TierState.DOWN, reason: "router's own calls to it keep failing (status stale)", source: "passive" };
  return { state: TierState.UNSPECIFIED, reason: last ? "tier status is stale" : "no tier status yet", source: "none" };
}

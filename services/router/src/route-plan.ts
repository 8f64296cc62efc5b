import type { TierLadder } from "@tiermesh/config";
import { TierState } from "@tiermesh/proto";
import type { TierStatusView } from "./tier-status-table.js";

export interface RouteInput {
  /** Tier the classifier assigned. */
  tier: string;
  /** Quality floor: never serve below it. */
  minTier: string;
}

export interface RoutePlan {
  /** Tiers to try in order: the first serves, the rest are in-request fallbacks. */
  tiers: string[];
  reasons: string[];
}

/**
 * Orders the tiers a request may be served by: the requested tier, then its configured
 * fallback chain down to the quality floor. Tiers reported down are moved out of the way.
 */
export function planRoute(
  input: RouteInput,
  ladder: TierLadder,
  fallbackOf: (tier: string) => string | undefined,
  statusOf: (tier: string) => TierStatusView | undefined,
): RoutePlan {
  const chain: string[] = [];
  for (let t: string | undefined = input.tier; t !== undefined && !chain.includes(t); t = fallbackOf(t)) {
    if (ladder.rank(t) < ladder.rank(input.minTier)) break;
    chain.push(t);
  }
  const reasons: string[] = [];
  const up: string[] = [];
  const down: string[] = [];
  for (const t of chain) {
    const status = statusOf(t);
    if (status?.state === TierState.DOWN) {
      down.push(t);
      reasons.push(`${t} is down (tier status #${status.sequence}: ${status.reason})`);
    } else {
      up.push(t);
    }
  }
  if (up.length > 0 && up[0] !== input.tier) reasons.push(`served by fallback tier ${up[0]}`);
  if (up.length === 0) reasons.push(`every tier from ${input.tier} down to ${chain[chain.length - 1]} is down; trying anyway`);
  return { tiers: [...up, ...down], reasons };
}

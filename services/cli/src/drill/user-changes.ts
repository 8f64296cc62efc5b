import { roundMs } from "./latency-stats.js";
import type { Sample } from "./sample.js";

export interface TierChange {
  /** Send time of the first request served by the new tier, in ms from fault start. */
  atMs: number;
  from: string;
  to: string;
}

export interface UserTiers {
  /** null for the callers that sent no user id, taken together. */
  user: string | null;
  requests: number;
  failed: number;
  /** Served tier of the first answer. */
  firstTier: string;
  /** Served tier of the last answer. */
  lastTier: string;
  changes: TierChange[];
}

export interface UsersFigures {
  /** Distinct user ids seen. */
  users: number;
  /** Users with at least one answer from another tier than the requested one. */
  movedOff: number;
  /** Of those, users whose last answer came from the requested tier. */
  backOnTier: number;
  /** Most tier changes any one user saw. */
  maxChanges: number;
  /** Every user (callers without an id last, as one entry). */
  list: UserTiers[];
}

/** Tier changes per user, in send order, from the answers each user got (failures change nothing). */
export function userChanges(sortedBySend: readonly Sample[], tier: string, faultStartAt: number): UsersFigures {
  const groups = new Map<string, Sample[]>();
  for (const s of sortedBySend) {
    const list = groups.get(s.user);
    if (list) list.push(s);
    else groups.set(s.user, [s]);
  }
  const list: UserTiers[] = [];
  for (const [user, samples] of groups) {
    const answered = samples.filter((s) => s.ok);
    const changes: TierChange[] = [];
    for (let i = 1; i < answered.length; i++) {
      const [prev, cur] = [answered[i - 1]!, answered[i]!];
      if (cur.servedTier !== prev.servedTier) {
        changes.push({ atMs: roundMs(cur.sentAt - faultStartAt), from: prev.servedTier, to: cur.servedTier });
      }
    }
    list.push({
      user: user === "" ? null : user,
      requests: samples.length,
      failed: samples.length - answered.length,
      firstTier: answered[0]?.servedTier ?? "",
      lastTier: answered.at(-1)?.servedTier ?? "",
      changes,
    });
  }
  list.sort((a, b) => (a.user === null ? 1 : b.user === null ? -1 : a.user.localeCompare(b.user)));
  const named = list.filter((u) => u.user !== null);
  const moved = named.filter((u) => u.firstTier !== tier || u.changes.some((c) => c.to !== tier));
  return {
    users: named.length,
    movedOff: moved.length,
    backOnTier: moved.filter((u) => u.lastTier === tier).length,
    maxChanges: Math.max(0, ...list.map((u) => u.changes.length)),
    list,
  };
}

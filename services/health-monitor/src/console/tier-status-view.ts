import { TierState, type TierStatusEvent } from "@tiermesh/proto";
import type { ConsoleState, StatusSource, TimelineEntry } from "./console-types.js";

/** The state the console shows for one tier, and whose word it is. */
export interface ShownStatus {
  state: ConsoleState;
  reason: string;
  sinceMs: number;
  source: StatusSource;
  monitorId: string;
}

interface Heard {
  event: TierStatusEvent;
  at: number;
}

const stateName = (s: TierState): ConsoleState => (s === TierState.UNSPECIFIED ? "UNKNOWN" : (TierState[s] as ConsoleState));

/**
 * Which state the console shows per tier. The published status (NATS, from the leading
 * replica) is what routers act on, so it wins while fresh: heard within `freshMs`, which
 * heartbeats guarantee while a leader publishes. Without it (NATS unreachable, no leader
 * yet) this replica's own judgement is shown, marked as such. Every update returns the
 * change of the shown state it caused, for the timeline.
 */
export class TierStatusView {
  private readonly published = new Map<string, Heard>();
  private readonly local = new Map<string, Heard>();
  private readonly shownStates = new Map<string, ConsoleState>();

  constructor(
    private readonly tiers: readonly string[],
    private readonly freshMs: number,
  ) {}

  /** A status from NATS (live or from the bucket); older sequences than the last one are dropped. */
  fromPublished(event: TierStatusEvent, now: number): TimelineEntry | undefined {
    if (!this.tiers.includes(event.tier)) return undefined;
    const last = this.published.get(event.tier);
    if (last && event.sequence <= last.event.sequence) return undefined;
    this.published.set(event.tier, { event, at: now });
    return this.change(event.tier, now);
  }

  /** A status this replica produced (state change, heartbeat). */
  fromLocal(event: TierStatusEvent, now: number): TimelineEntry | undefined {
    if (!this.tiers.includes(event.tier)) return undefined;
    this.local.set(event.tier, { event, at: now });
    return this.change(event.tier, now);
  }

  /** Changes caused by time alone: a published status that went stale gives way to the local one. */
  refresh(now: number): TimelineEntry[] {
    return this.tiers.map((t) => this.change(t, now)).filter((e): e is TimelineEntry => e !== undefined);
  }

  shown(tier: string, now: number): ShownStatus {
    const published = this.published.get(tier);
    const local = this.local.get(tier);
    const fresh = published && now - published.at <= this.freshMs;
    const heard = fresh ? published : (local ?? published);
    if (!heard) return { state: "UNKNOWN", reason: "no status heard yet", sinceMs: 0, source: "published", monitorId: "" };
    const e = heard.event;
    return {
      state: stateName(e.state),
      reason: e.reason,
      sinceMs: Number(e.sinceMs),
      source: heard === published ? "published" : "local",
      monitorId: e.monitorId,
    };
  }

  private change(tier: string, now: number): TimelineEntry | undefined {
    const shown = this.shown(tier, now);
    const before = this.shownStates.get(tier) ?? "UNKNOWN";
    if (shown.state === before) return undefined;
    this.shownStates.set(tier, shown.state);
    return { atMs: now, tier, from: before, to: shown.state, reason: shown.reason, source: shown.source, monitorId: shown.monitorId };
  }
}

import { create } from "@bufbuild/protobuf";
import type { Config } from "@tiermesh/config";
import { TierState, TierStatusEventSchema, type Outcome, type TierStatusEvent } from "@tiermesh/proto";
import { TierHealth } from "./tier-health.js";

export interface StatusBoardOptions {
  monitorId: string;
  /** First sequence number; later events count up from it. */
  firstSequence: bigint;
  /** Last known status per tier (from the bucket), so a restarted monitor continues where it was. */
  previous?: readonly TierStatusEvent[];
}

/** The monitor's view of every tier; turns outcomes into tier-status events. */
export class StatusBoard {
  private readonly tiers = new Map<string, TierHealth>();
  private sequence: bigint;

  constructor(
    config: Config,
    private readonly options: StatusBoardOptions,
  ) {
    this.sequence = options.firstSequence;
    const known = new Map((options.previous ?? []).map((e) => [e.tier, e]));
    for (const [name, tier] of Object.entries(config.tiers)) {
      const last = known.get(name);
      const initial =
        last && last.state !== TierState.UNSPECIFIED
          ? { state: last.state, sinceMs: Number(last.sinceMs), reason: `${last.reason} (carried over)` }
          : undefined;
      this.tiers.set(name, new TierHealth(name, tier.slo, initial));
    }
  }

  record(outcome: Outcome, now: number): void {
    this.tiers.get(outcome.tier)?.record(outcome, now);
  }

  /** Evaluates every tier; returns one event per tier whose state changed. */
  evaluate(now: number): TierStatusEvent[] {
    const changed: TierStatusEvent[] = [];
    for (const health of this.tiers.values()) {
      const t = health.evaluate(now);
      if (t) changed.push(this.event(health, now, t.previous));
    }
    return changed;
  }

  /** A fresh event with the current state of every tier (heartbeat, GetStatus). */
  snapshot(now: number): TierStatusEvent[] {
    return [...this.tiers.values()].map((h) => this.event(h, now, h.state));
  }

  private event(h: TierHealth, now: number, previous: TierState): TierStatusEvent {
    this.sequence += 1n;
    return create(TierStatusEventSchema, {
      tier: h.tier,
      state: h.state,
      previousState: previous,
      sli: h.sli(now),
      reason: h.reason,
      sequence: this.sequence,
      atMs: BigInt(now),
      sinceMs: BigInt(h.sinceMs),
      monitorId: this.options.monitorId,
    });
  }
}

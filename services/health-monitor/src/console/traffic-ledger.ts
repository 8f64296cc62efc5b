import type { TierLadder } from "@tiermesh/config";
import { OutcomeStatus, type Outcome } from "@tiermesh/proto";
import type { ConsoleTraffic, FlowKind, TrafficFlow } from "./console-types.js";

/** One second of user traffic. */
interface Second {
  /** Epoch second this slot holds; -1 when empty. */
  at: number;
  /** Answers per requested → served pair (key `requested\0served`). */
  served: Map<string, number>;
  /** Cost per served tier. */
  cost: Map<string, number>;
}

/** Traffic of whole seconds: answers per flow and per served tier, cost per tier. */
export interface TrafficTotals {
  seconds: number;
  flows: Map<string, { requested: string; served: string; kind: FlowKind; count: number }>;
  servedByTier: Map<string, number>;
  costByTier: Map<string, number>;
  promotions: number;
  fallbacks: number;
}

const SEP = "\u0000";

/**
 * Requested-vs-served traffic from executors' outcomes, per second. An answer is an OK outcome
 * of user traffic; its flow is the tier the request was classified into (the outcome's
 * `requested_tier`, or its own tier when no router said) and the tier that served it: the
 * same tier, a promotion (served above) or a fallback (served below). Cost counts every
 * attempt of user traffic, failed ones too. Probes are not reported by executors, so they are
 * not here. Outcomes are counted in the second they arrive, like the monitor's own windows.
 */
export class TrafficLedger {
  private readonly slots: Second[];

  constructor(
    private readonly ladder: TierLadder,
    /** Seconds kept; reads reach back at most this far. */
    private readonly keepSeconds = 60,
  ) {
    this.slots = Array.from({ length: keepSeconds }, () => ({ at: -1, served: new Map(), cost: new Map() }));
  }

  record(o: Outcome, now: number): void {
    if (o.probe || !this.ladder.has(o.tier)) return;
    const requested = o.requestedTier === "" ? o.tier : o.requestedTier;
    if (!this.ladder.has(requested)) return;
    const slot = this.slotAt(Math.floor(now / 1_000));
    if (o.costUsd > 0) slot.cost.set(o.tier, (slot.cost.get(o.tier) ?? 0) + o.costUsd);
    if (o.status !== OutcomeStatus.OK) return;
    const key = requested + SEP + o.tier;
    slot.served.set(key, (slot.served.get(key) ?? 0) + 1);
  }

  /** Totals over the `seconds` whole seconds before the one `now` is in. */
  totals(now: number, seconds: number): TrafficTotals {
    const current = Math.floor(now / 1_000);
    seconds = Math.max(1, Math.min(seconds, this.keepSeconds));
    const totals: TrafficTotals = {
      seconds,
      flows: new Map(),
      servedByTier: new Map(),
      costByTier: new Map(),
      promotions: 0,
      fallbacks: 0,
    };
    for (let at = Math.max(0, current - seconds); at < current; at++) {
      const slot = this.slots[at % this.keepSeconds]!;
      if (slot.at !== at) continue;
      for (const [tier, cost] of slot.cost) totals.costByTier.set(tier, (totals.costByTier.get(tier) ?? 0) + cost);
      for (const [key, count] of slot.served) {
        const [requested, served] = key.split(SEP) as [string, string];
        const flow = totals.flows.get(key) ?? { requested, served, kind: this.kindOf(requested, served), count: 0 };
        flow.count += count;
        totals.flows.set(key, flow);
        totals.servedByTier.set(served, (totals.servedByTier.get(served) ?? 0) + count);
        if (flow.kind === "promotion") totals.promotions += count;
        if (flow.kind === "fallback") totals.fallbacks += count;
      }
    }
    return totals;
  }

  /** Rates from totals: answers and moves per second, cost per minute. */
  summary(t: TrafficTotals): ConsoleTraffic {
    const seconds = t.seconds;
    const perSecond = (n: number) => n / seconds;
    const flows: TrafficFlow[] = [...t.flows.values()]
      .map((f) => ({ requested: f.requested, served: f.served, kind: f.kind, perSecond: perSecond(f.count) }))
      .sort(
        (a, b) => this.ladder.rank(b.requested) - this.ladder.rank(a.requested) || this.ladder.rank(b.served) - this.ladder.rank(a.served),
      );
    let served = 0;
    for (const n of t.servedByTier.values()) served += n;
    let cost = 0;
    for (const c of t.costByTier.values()) cost += c;
    return {
      windowMs: seconds * 1_000,
      servedPerSecond: perSecond(served),
      flows,
      promotionsPerSecond: perSecond(t.promotions),
      fallbacksPerSecond: perSecond(t.fallbacks),
      costUsdPerMinute: (cost * 60) / seconds,
    };
  }

  private kindOf(requested: string, served: string): FlowKind {
    if (requested === served) return "own";
    return this.ladder.above(served, requested) ? "promotion" : "fallback";
  }

  private slotAt(at: number): Second {
    const slot = this.slots[at % this.keepSeconds]!;
    if (slot.at !== at) {
      slot.at = at;
      slot.served.clear();
      slot.cost.clear();
    }
    return slot;
  }
}

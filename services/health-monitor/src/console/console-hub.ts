import { TierLadder, type Config } from "@tiermesh/config";
import type { Outcome, TierSli, TierStatusEvent } from "@tiermesh/proto";
import type { ConsoleMessage, ConsoleSli, ConsoleSnapshot, ConsoleTier, SeriesPoint, TierPoint, TimelineEntry } from "./console-types.js";
import { TierStatusView } from "./tier-status-view.js";
import { TrafficLedger, type TrafficTotals } from "./traffic-ledger.js";

export interface ConsoleHubOptions {
  config: Config;
  monitorId: string;
  /** Each tier's SLIs now, from this replica's windows. */
  slis: (now: number) => ReadonlyMap<string, TierSli>;
  leading: () => boolean;
  natsConnected: () => boolean;
  /** Seconds of chart history kept and sent with the snapshot. */
  historySeconds?: number;
  /** Seconds the traffic rates (split, moves, cost) are averaged over. */
  trafficSeconds?: number;
  /** State changes kept for the timeline. */
  timelineLength?: number;
}

type Listener = (message: ConsoleMessage) => void;

const EMPTY_SLI: ConsoleSli = {
  sampleCount: 0,
  errorRate: 0,
  timeoutRate: 0,
  rateLimitedRate: 0,
  ttftP50Ms: 0,
  ttftP95Ms: 0,
  ttftP99Ms: 0,
  latencyP95Ms: 0,
  windowMs: 0,
  consecutiveFailures: 0,
  inFlight: 0,
  queued: 0,
  capacity: 0,
  executors: 0,
};

function consoleSli(s: TierSli | undefined): ConsoleSli {
  if (!s) return EMPTY_SLI;
  return {
    sampleCount: s.sampleCount,
    errorRate: s.errorRate,
    timeoutRate: s.timeoutRate,
    rateLimitedRate: s.rateLimitedRate,
    ttftP50Ms: s.ttftP50Ms,
    ttftP95Ms: s.ttftP95Ms,
    ttftP99Ms: s.ttftP99Ms,
    latencyP95Ms: s.latencyP95Ms,
    windowMs: s.windowMs,
    consecutiveFailures: s.consecutiveFailures,
    inFlight: s.inFlight,
    queued: s.queued,
    capacity: s.capacity,
    executors: s.executors,
  };
}

/** A percentile of no samples is 0 in the SLIs; the charts leave a gap instead. */
const measured = (ms: number): number | null => (ms > 0 ? ms : null);

/**
 * The tier console's state, fed by the monitor: executors' outcomes (traffic split, moves,
 * cost), tier status published on NATS and this replica's own, and its SLI windows sampled
 * once a second by `tick`. Keeps a few minutes of per-second chart points and the timeline
 * of state changes, answers snapshots, and tells subscribers (SSE streams) of every tick
 * and, at once, of every change of a tier's shown state.
 */
export class ConsoleHub {
  private readonly ladder: TierLadder;
  private readonly ledger: TrafficLedger;
  private readonly view: TierStatusView;
  private readonly series: SeriesPoint[] = [];
  private readonly timeline: TimelineEntry[] = [];
  private readonly listeners = new Set<Listener>();
  private readonly historySeconds: number;
  private readonly trafficSeconds: number;
  private readonly timelineLength: number;

  constructor(private readonly options: ConsoleHubOptions) {
    const { config } = options;
    this.ladder = new TierLadder(config.tiers);
    this.historySeconds = options.historySeconds ?? 300;
    this.trafficSeconds = options.trafficSeconds ?? 10;
    this.timelineLength = options.timelineLength ?? 200;
    this.ledger = new TrafficLedger(this.ladder, this.trafficSeconds + 2);
    // Heartbeats keep a leader's status fresh; three missed ones mean nobody is publishing.
    this.view = new TierStatusView(this.ladder.names, 3 * config.health_monitor.heartbeat_ms);
  }

  recordOutcome(outcome: Outcome, now: number): void {
    this.ledger.record(outcome, now);
  }

  fromPublished(event: TierStatusEvent, now: number): void {
    this.changed(this.view.fromPublished(event, now), now);
  }

  fromLocal(event: TierStatusEvent, now: number): void {
    this.changed(this.view.fromLocal(event, now), now);
  }

  /** Samples the second before `now` for the charts and tells subscribers. */
  tick(now: number): void {
    for (const entry of this.view.refresh(now)) this.changed(entry, now);
    const slis = this.options.slis(now);
    const totals = this.ledger.totals(now, this.trafficSeconds);
    const point = this.point(now, slis, totals);
    const last = this.series[this.series.length - 1];
    if (last === undefined || point.t > last.t) {
      this.series.push(point);
      if (this.series.length > this.historySeconds) this.series.shift();
    }
    this.send({
      type: "tick",
      data: {
        atMs: now,
        leading: this.options.leading(),
        natsConnected: this.options.natsConnected(),
        tiers: this.rows(now, slis, totals),
        traffic: this.ledger.summary(totals),
        point,
      },
    });
  }

  snapshot(now: number): ConsoleSnapshot {
    const totals = this.ledger.totals(now, this.trafficSeconds);
    return {
      atMs: now,
      monitorId: this.options.monitorId,
      leading: this.options.leading(),
      natsConnected: this.options.natsConnected(),
      tiers: this.rows(now, this.options.slis(now), totals),
      traffic: this.ledger.summary(totals),
      series: [...this.series],
      timeline: [...this.timeline],
    };
  }

  /** Registers a listener for ticks and status changes; returns the unregister function. */
  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(entry: TimelineEntry | undefined, now: number): void {
    if (!entry) return;
    this.timeline.push(entry);
    if (this.timeline.length > this.timelineLength) this.timeline.shift();
    const totals = this.ledger.totals(now, this.trafficSeconds);
    const tier = this.rows(now, this.options.slis(now), totals).find((t) => t.tier === entry.tier)!;
    this.send({ type: "status", data: { tier, entry } });
  }

  private send(message: ConsoleMessage): void {
    for (const listener of this.listeners) listener(message);
  }

  private rows(now: number, slis: ReadonlyMap<string, TierSli>, totals: TrafficTotals): ConsoleTier[] {
    const { tiers } = this.options.config;
    return this.ladder.names.map((tier) => ({
      tier,
      rank: tiers[tier]!.rank,
      ...this.view.shown(tier, now),
      sloTtftP95Ms: tiers[tier]!.slo.ttft_p95_ms,
      sli: consoleSli(slis.get(tier)),
      servedPerSecond: (totals.servedByTier.get(tier) ?? 0) / totals.seconds,
      costUsdPerMinute: ((totals.costByTier.get(tier) ?? 0) * 60) / totals.seconds,
    }));
  }

  /**
   * The chart point of the whole second before `now`: that second's answers and moves, the
   * SLI windows as they are now, and cost per minute over the traffic window (one second's
   * spend is too spiky to read).
   */
  private point(now: number, slis: ReadonlyMap<string, TierSli>, totals: TrafficTotals): SeriesPoint {
    const second = this.ledger.totals(now, 1);
    const tiers: Record<string, TierPoint> = {};
    for (const tier of this.ladder.names) {
      const s = slis.get(tier);
      const sampled = s !== undefined && s.sampleCount > 0;
      tiers[tier] = {
        ttftP50Ms: measured(s?.ttftP50Ms ?? 0),
        ttftP95Ms: measured(s?.ttftP95Ms ?? 0),
        ttftP99Ms: measured(s?.ttftP99Ms ?? 0),
        latencyP95Ms: measured(s?.latencyP95Ms ?? 0),
        errorRate: sampled ? s.errorRate : null,
        timeoutRate: sampled ? s.timeoutRate : null,
        rateLimitedRate: sampled ? s.rateLimitedRate : null,
        servedPerSecond: second.servedByTier.get(tier) ?? 0,
        costUsdPerMinute: ((totals.costByTier.get(tier) ?? 0) * 60) / totals.seconds,
      };
    }
    return { t: Math.floor(now / 1_000) - 1, tiers, promotionsPerSecond: second.promotions, fallbacksPerSecond: second.fallbacks };
  }
}

/**
 * What the tier console's browser page receives, as JSON: the snapshot (GET
 * /console/snapshot.json, and the first `snapshot` event of /console/events), then a `tick`
 * every second and a `status` event the moment a tier's state changes.
 */

export type ConsoleState = "HEALTHY" | "DEGRADED" | "DOWN" | "UNKNOWN";

/**
 * Where a tier's state comes from: `published` is the status on NATS (the leading replica's
 * word, what routers act on); `local` is this replica's own judgement, shown while no fresh
 * published status is at hand (NATS unreachable, no leader yet).
 */
export type StatusSource = "published" | "local";

/** A tier's SLIs over its window, as this replica computes them from the outcomes it sees. */
export interface ConsoleSli {
  sampleCount: number;
  errorRate: number;
  timeoutRate: number;
  rateLimitedRate: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  ttftP99Ms: number;
  latencyP95Ms: number;
  windowMs: number;
  consecutiveFailures: number;
  inFlight: number;
  queued: number;
  capacity: number;
  executors: number;
}

export interface ConsoleTier {
  tier: string;
  rank: number;
  state: ConsoleState;
  reason: string;
  /** Epoch ms when the tier entered its state; 0 when unknown. */
  sinceMs: number;
  source: StatusSource;
  /** The monitor replica whose judgement this is. */
  monitorId: string;
  /** The tier's SLO target for TTFT p95, for reference. */
  sloTtftP95Ms: number;
  sli: ConsoleSli;
  /** Requests served by this tier per second, over the traffic window (user traffic only). */
  servedPerSecond: number;
  /** What this tier's user traffic cost over the traffic window, per minute. */
  costUsdPerMinute: number;
}

/** Whether a request was served by the tier it was classified into, or moved up or down. */
export type FlowKind = "own" | "promotion" | "fallback";

export interface TrafficFlow {
  requested: string;
  served: string;
  kind: FlowKind;
  perSecond: number;
}

/** Requested-vs-served traffic over the last `windowMs`, from executors' outcomes. */
export interface ConsoleTraffic {
  windowMs: number;
  servedPerSecond: number;
  flows: TrafficFlow[];
  promotionsPerSecond: number;
  fallbacksPerSecond: number;
  costUsdPerMinute: number;
}

/** A change of a tier's state as the console shows it. */
export interface TimelineEntry {
  atMs: number;
  tier: string;
  from: ConsoleState;
  to: ConsoleState;
  reason: string;
  source: StatusSource;
  monitorId: string;
}

/** One tier's values in one second of the charts; null where there was nothing to measure. */
export interface TierPoint {
  ttftP50Ms: number | null;
  ttftP95Ms: number | null;
  ttftP99Ms: number | null;
  latencyP95Ms: number | null;
  errorRate: number | null;
  timeoutRate: number | null;
  rateLimitedRate: number | null;
  servedPerSecond: number;
  costUsdPerMinute: number;
}

/** One second of the charts. */
export interface SeriesPoint {
  /** Epoch seconds. */
  t: number;
  tiers: Record<string, TierPoint>;
  promotionsPerSecond: number;
  fallbacksPerSecond: number;
}

export interface ConsoleSnapshot {
  atMs: number;
  monitorId: string;
  /** This replica holds the lease and publishes tier status. */
  leading: boolean;
  natsConnected: boolean;
  tiers: ConsoleTier[];
  traffic: ConsoleTraffic;
  /** The last minutes, oldest first, one point per second. */
  series: SeriesPoint[];
  /** State changes, oldest first. */
  timeline: TimelineEntry[];
}

/** Sent every second. */
export interface ConsoleTick {
  atMs: number;
  leading: boolean;
  natsConnected: boolean;
  tiers: ConsoleTier[];
  traffic: ConsoleTraffic;
  point: SeriesPoint;
}

/** Sent the moment a tier's shown state changes. */
export interface ConsoleStatusChange {
  tier: ConsoleTier;
  entry: TimelineEntry;
}

export type ConsoleMessage =
  | { type: "snapshot"; data: ConsoleSnapshot }
  | { type: "tick"; data: ConsoleTick }
  | { type: "status"; data: ConsoleStatusChange };

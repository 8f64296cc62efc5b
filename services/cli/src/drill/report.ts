import { above, percentiles, roundMs, type Percentiles, type Share } from "./latency-stats.js";
import type { Sample, TierObjectives, Timeline } from "./sample.js";
import { userChanges, type UsersFigures } from "./user-changes.js";

export const phaseNames = ["before", "during", "after"] as const;
export type PhaseName = (typeof phaseNames)[number];

export interface PhaseFigures {
  /** Window of send times, in ms from fault start. */
  fromMs: number;
  toMs: number;
  sent: number;
  answered: number;
  failed: number;
  /** Failed requests by error code. */
  errors: Record<string, number>;
  /** Answers by the tier that served them. */
  servedTiers: Record<string, number>;
  /** Answers served after the router's first tier failed within the request. */
  inRequestFallbacks: number;
  /** Client-observed time to the first piece of the answer, over answered requests. */
  ttftMs: Percentiles | null;
  /** Client-observed time to the end of the answer, over answered requests. */
  totalMs: Percentiles | null;
  /** The router's own `timings.ttftUs` (without the client's side of the wire), over answered requests. */
  routerTtftMs: Percentiles | null;
  /** Answers whose TTFT was above the tier's `slo.ttft_p95_ms`. */
  ttftOverSlo: Share;
  /** Answers whose TTFT was above the tier's `timeouts.ttft_ms`. */
  ttftOverTimeout: Share;
  slo: PhaseSlo;
}

export interface PhaseSlo {
  /** answered / sent; null without requests. */
  availability: number | null;
  /** Share of answers within the SLO TTFT; null without answers. */
  ttftWithinSlo: number | null;
  /** Both at or above the tier's targets; null without requests. */
  met: boolean | null;
}

export interface RerouteFigures {
  /** Fault start → the first answer (its arrival) served by another tier than the requested one. */
  firstAnswerElsewhereMs: number | null;
  /** Fault start → send time from which every request went straight to another tier, without trying the faulted one. */
  routedAroundMs: number | null;
  /**
   * Fault start → send time from which no request waited for the faulted tier: every one was
   * answered, and within the SLO TTFT unless another tier answered it at the router's first try.
   */
  noWaitMs: number | null;
}

export interface ReturnFigures {
  /** Fault end → send time of the first request served by the requested tier again. */
  firstBackMs: number | null;
  /** Fault end → send time from which every request was served by the requested tier. */
  allBackMs: number | null;
}

export interface DrillFigures {
  requests: {
    sent: number;
    answered: number;
    failed: number;
    errors: Record<string, number>;
    /** The first message seen for each error code. */
    errorExamples: Record<string, string>;
  };
  phases: Record<PhaseName, PhaseFigures>;
  reroute: RerouteFigures;
  return: ReturnFigures;
  users: UsersFigures;
  /** How far behind its open-loop schedule the drill sent requests (its own lag, not the mesh's). */
  sendLagMs: Percentiles | null;
  /** Every phase with requests met the tier's SLO. */
  sloMet: boolean;
}

const ttftOf = (s: Sample) => s.firstTokenAt! - s.sentAt;
const bySend = (a: Sample, b: Sample) => a.sentAt - b.sentAt || a.seq - b.seq;

function count(keys: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

const ratio = (n: number, d: number) => Math.round((n / d) * 10_000) / 10_000;

function phaseFigures(samples: readonly Sample[], fromMs: number, toMs: number, o: TierObjectives): PhaseFigures {
  const answered = samples.filter((s) => s.ok);
  const failed = samples.filter((s) => !s.ok);
  const ttfts = answered.map(ttftOf);
  const overSlo = above(ttfts, o.sloTtftMs);
  const availability = samples.length === 0 ? null : ratio(answered.length, samples.length);
  const ttftWithinSlo = answered.length === 0 ? null : ratio(answered.length - overSlo.count, answered.length);
  return {
    fromMs: roundMs(fromMs),
    toMs: roundMs(toMs),
    sent: samples.length,
    answered: answered.length,
    failed: failed.length,
    errors: count(failed.map((s) => s.errorCode)),
    servedTiers: count(answered.map((s) => s.servedTier)),
    inRequestFallbacks: answered.filter((s) => s.tierAttempts > 1).length,
    ttftMs: percentiles(ttfts),
    totalMs: percentiles(answered.map((s) => s.endedAt - s.sentAt)),
    routerTtftMs: percentiles(answered.flatMap((s) => (s.serverTtftMs === undefined ? [] : [s.serverTtftMs]))),
    ttftOverSlo: overSlo,
    ttftOverTimeout: above(ttfts, o.ttftTimeoutMs),
    slo: {
      availability,
      ttftWithinSlo,
      met: availability === null ? null : availability >= o.availabilityTarget && (ttftWithinSlo ?? 0) >= o.latencyTarget,
    },
  };
}

/** A clean run must last this long (or a quarter of its window, if shorter) before the window ends to count as settled. */
export const MIN_SETTLED_MS = 1_000;

/**
 * Offset from `origin` of the send time from which every sample (in send order) up to
 * `windowEnd` is `good`: 0 when all are; null when none settled, or only in the window's last
 * moments (a last lucky request or two says nothing).
 */
export function settledFrom(sorted: readonly Sample[], good: (s: Sample) => boolean, origin: number, windowEnd: number): number | null {
  if (sorted.length === 0) return null;
  const lastBad = sorted.findLastIndex((s) => !good(s));
  if (lastBad === -1) return 0;
  const from = sorted[lastBad + 1];
  if (from === undefined || windowEnd - from.sentAt < Math.min(MIN_SETTLED_MS, (windowEnd - origin) / 4)) return null;
  return roundMs(from.sentAt - origin);
}

/** The drill's figures from its recorded samples: a pure function, so the math is unit-tested. */
export function computeReport(samples: readonly Sample[], t: Timeline, o: TierObjectives): DrillFigures {
  const sorted = [...samples].sort(bySend);
  const before = sorted.filter((s) => s.sentAt < t.faultStartAt);
  const during = sorted.filter((s) => s.sentAt >= t.faultStartAt && s.sentAt < t.faultEndAt);
  const after = sorted.filter((s) => s.sentAt >= t.faultEndAt);
  const rel = (at: number) => at - t.faultStartAt;
  const phases: Record<PhaseName, PhaseFigures> = {
    before: phaseFigures(before, rel(t.trafficStartAt), 0, o),
    during: phaseFigures(during, 0, rel(t.faultEndAt), o),
    after: phaseFigures(after, rel(t.faultEndAt), rel(Math.max(t.trafficEndAt, t.faultEndAt)), o),
  };

  const elsewhere = sorted
    .filter((s) => s.ok && s.servedTier !== o.tier && s.endedAt >= t.faultStartAt)
    .map((s) => s.endedAt - t.faultStartAt);
  const straightElsewhere = (s: Sample) => s.ok && s.servedTier !== o.tier && s.tierAttempts <= 1;
  const waited = (s: Sample) => !s.ok || (ttftOf(s) > o.sloTtftMs && !straightElsewhere(s));
  const reroute: RerouteFigures = {
    firstAnswerElsewhereMs: elsewhere.length === 0 ? null : roundMs(Math.min(...elsewhere)),
    routedAroundMs: settledFrom(during, straightElsewhere, t.faultStartAt, t.faultEndAt),
    noWaitMs: settledFrom(during, (s) => !waited(s), t.faultStartAt, t.faultEndAt),
  };

  const servedByTier = (s: Sample) => s.ok && s.servedTier === o.tier;
  const firstBack = after.find(servedByTier);
  const back: ReturnFigures = {
    firstBackMs: firstBack === undefined ? null : roundMs(firstBack.sentAt - t.faultEndAt),
    allBackMs: settledFrom(after, servedByTier, t.faultEndAt, Math.max(t.trafficEndAt, t.faultEndAt)),
  };

  const failed = sorted.filter((s) => !s.ok);
  const errorExamples: Record<string, string> = {};
  for (const s of failed) errorExamples[s.errorCode] ??= s.errorMessage;
  return {
    requests: {
      sent: sorted.length,
      answered: sorted.length - failed.length,
      failed: failed.length,
      errors: count(failed.map((s) => s.errorCode)),
      errorExamples,
    },
    phases,
    reroute,
    return: back,
    users: userChanges(sorted, o.tier, t.faultStartAt),
    sendLagMs: percentiles(sorted.map((s) => s.sentAt - s.scheduledAt)),
    sloMet: phaseNames.every((p) => phases[p].slo.met !== false),
  };
}

import * as hdr from "hdr-histogram-js";
import { OutcomeStatus, type Outcome } from "@tiermesh/proto";

/** SLIs of one tier over the window, as the state machine reads them. */
export interface Sli {
  sampleCount: number;
  errorRate: number;
  timeoutRate: number;
  rateLimitedRate: number;
  ttftP50Ms: number;
  ttftP95Ms: number;
  ttftP99Ms: number;
  latencyP95Ms: number;
  costUsdPerMinute: number;
  windowMs: number;
}

interface Slot {
  start: number;
  ok: number;
  errors: number;
  timeouts: number;
  rateLimited: number;
  cost: number;
  ttft: hdr.Histogram;
  latency: hdr.Histogram;
}

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 2 });

/**
 * Sliding-window SLIs from request outcomes: the window is cut into slots, each with its
 * own counters and HDR histograms; a slot older than the window is reset and reused.
 */
export class SliWindow {
  private readonly slots: Slot[];
  private readonly slotMs: number;
  private readonly mergedTtft = histogram();
  private readonly mergedLatency = histogram();

  constructor(
    readonly windowMs: number,
    slotCount = 10,
  ) {
    this.slotMs = Math.max(1, Math.ceil(windowMs / slotCount));
    this.slots = Array.from({ length: slotCount }, () => ({
      start: -Infinity,
      ok: 0,
      errors: 0,
      timeouts: 0,
      rateLimited: 0,
      cost: 0,
      ttft: histogram(),
      latency: histogram(),
    }));
  }

  /** Counts an outcome; client errors and cancellations are not the tier's doing and are skipped. */
  record(o: Outcome, now: number): void {
    if (o.status === OutcomeStatus.CLIENT_ERROR || o.status === OutcomeStatus.CANCELLED) return;
    const slot = this.slotAt(now);
    slot.cost += o.costUsd;
    switch (o.status) {
      case OutcomeStatus.OK:
        slot.ok++;
        slot.ttft.recordValue(Math.max(1, o.ttftMs));
        slot.latency.recordValue(Math.max(1, o.latencyMs));
        break;
      case OutcomeStatus.TIMEOUT:
      case OutcomeStatus.STALLED: // a hang caught before its TTFT timeout
        slot.timeouts++;
        break;
      case OutcomeStatus.RATE_LIMITED:
        slot.rateLimited++;
        break;
      default:
        slot.errors++;
    }
  }

  clear(): void {
    for (const slot of this.slots) slot.start = -Infinity;
  }

  sli(now: number): Sli {
    let ok = 0;
    let errors = 0;
    let timeouts = 0;
    let rateLimited = 0;
    let cost = 0;
    this.mergedTtft.reset();
    this.mergedLatency.reset();
    for (const slot of this.slots) {
      if (now - slot.start >= this.windowMs) continue;
      ok += slot.ok;
      errors += slot.errors;
      timeouts += slot.timeouts;
      rateLimited += slot.rateLimited;
      cost += slot.cost;
      if (slot.ok > 0) {
        this.mergedTtft.add(slot.ttft);
        this.mergedLatency.add(slot.latency);
      }
    }
    const total = ok + errors + timeouts + rateLimited;
    const ratio = (n: number) => (total === 0 ? 0 : n / total);
    const pct = (h: hdr.Histogram, p: number) => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p));
    return {
      sampleCount: total,
      errorRate: ratio(errors + timeouts),
      timeoutRate: ratio(timeouts),
      rateLimitedRate: ratio(rateLimited),
      ttftP50Ms: pct(this.mergedTtft, 50),
      ttftP95Ms: pct(this.mergedTtft, 95),
      ttftP99Ms: pct(this.mergedTtft, 99),
      latencyP95Ms: pct(this.mergedLatency, 95),
      costUsdPerMinute: (cost * 60_000) / this.windowMs,
      windowMs: this.windowMs,
    };
  }

  private slotAt(now: number): Slot {
    const start = now - (now % this.slotMs);
    const slot = this.slots[Math.floor(now / this.slotMs) % this.slots.length]!;
    if (slot.start !== start) {
      slot.start = start;
      slot.ok = slot.errors = slot.timeouts = slot.rateLimited = 0;
      slot.cost = 0;
      slot.ttft.reset();
      slot.latency.reset();
    }
    return slot;
  }
}

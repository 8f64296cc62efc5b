import type { TierSloConfig } from "@tiermesh/config";
import type { Outcome } from "@tiermesh/proto";
import { sloEventOf } from "./slo-event.js";

/** Good and bad event counts in time slots, for ratios over any window up to its span. */
class EventSlots {
  private readonly starts: Float64Array;
  private readonly total: Uint32Array;
  private readonly errors: Uint32Array;
  private readonly slow: Uint32Array;
  private readonly oks: Uint32Array;

  constructor(
    private readonly slotMs: number,
    private readonly count: number,
  ) {
    this.starts = new Float64Array(count).fill(-Infinity);
    this.total = new Uint32Array(count);
    this.errors = new Uint32Array(count);
    this.slow = new Uint32Array(count);
    this.oks = new Uint32Array(count);
  }

  add(now: number, error: boolean, ok: boolean, slow: boolean): void {
    const start = now - (now % this.slotMs);
    const i = Math.floor(now / this.slotMs) % this.count;
    if (this.starts[i] !== start) {
      this.starts[i] = start;
      this.total[i] = this.errors[i] = this.slow[i] = this.oks[i] = 0;
    }
    this.total[i]!++;
    if (error) this.errors[i]!++;
    if (ok) this.oks[i]!++;
    if (slow) this.slow[i]!++;
  }

  clear(): void {
    this.starts.fill(-Infinity);
  }

  sum(now: number, windowMs: number): { total: number; errors: number; oks: number; slow: number } {
    let total = 0;
    let errors = 0;
    let oks = 0;
    let slow = 0;
    for (let i = 0; i < this.count; i++) {
      if (now - this.starts[i]! >= windowMs) continue;
      total += this.total[i]!;
      errors += this.errors[i]!;
      oks += this.oks[i]!;
      slow += this.slow[i]!;
    }
    return { total, errors, oks, slow };
  }
}

export interface BurnVerdict {
  /** Why the tier burns its budget too fast; undefined when no alert fires. */
  firing: string | undefined;
}

/**
 * Error-budget burn rates over the SLO's alert windows, for availability (errors and
 * timeouts against `availability_target`) and latency (successes slower than
 * `ttft_p95_ms` against `latency_target`). An alert fires when both its long and short
 * window burn faster than its rate and the short window has `min_samples`.
 */
export class BurnRateTracker {
  private readonly slots: EventSlots;

  constructor(private readonly slo: TierSloConfig) {
    const longest = Math.max(1, ...slo.burn_alerts.map((a) => a.long_window_ms));
    const shortest = Math.max(1, Math.min(...slo.burn_alerts.map((a) => a.short_window_ms), longest));
    const slotMs = Math.max(100, Math.floor(shortest / 5));
    this.slots = new EventSlots(slotMs, Math.ceil(longest / slotMs) + 1);
  }

  /** Errors, timeouts and stalls burn the availability budget; client errors, cancellations and 429s are skipped. */
  record(o: Outcome, now: number): void {
    const event = sloEventOf(o, this.slo);
    if (event) this.slots.add(now, !event.ok, event.ok, event.slow);
  }

  /** Forgets every event (a tier leaving down starts its budget afresh: the outage was acted on). */
  clear(): void {
    this.slots.clear();
  }

  evaluate(now: number): BurnVerdict {
    const availabilityBudget = 1 - this.slo.availability_target;
    const latencyBudget = 1 - this.slo.latency_target;
    for (const alert of this.slo.burn_alerts) {
      const short = this.slots.sum(now, alert.short_window_ms);
      if (short.total < this.slo.min_samples) continue;
      const long = this.slots.sum(now, alert.long_window_ms);
      const burn = (bad: number, n: number, budget: number) => (n === 0 ? 0 : bad / n / budget);
      const errShort = burn(short.errors, short.total, availabilityBudget);
      const errLong = burn(long.errors, long.total, availabilityBudget);
      if (errShort > alert.rate && errLong > alert.rate) {
        return {
          firing: `error budget burning ${errLong.toFixed(1)}x over ${alert.long_window_ms / 1_000} s and ${errShort.toFixed(1)}x over ${alert.short_window_ms / 1_000} s (alert at ${alert.rate}x)`,
        };
      }
      const latShort = burn(short.slow, short.oks, latencyBudget);
      const latLong = burn(long.slow, long.oks, latencyBudget);
      if (short.oks >= this.slo.min_samples && latShort > alert.rate && latLong > alert.rate) {
        return {
          firing: `latency budget burning ${latLong.toFixed(1)}x over ${alert.long_window_ms / 1_000} s and ${latShort.toFixed(1)}x over ${alert.short_window_ms / 1_000} s (alert at ${alert.rate}x)`,
        };
      }
    }
    return { firing: undefined };
  }
}

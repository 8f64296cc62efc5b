import * as hdr from "hdr-histogram-js";

const HIGHEST_MS = 3_600_000;
const RECOMPUTE_SAMPLES = 64;
const RECOMPUTE_MS = 250;

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_MS, numberOfSignificantValueDigits: 2 });

/**
 * One deployment's recent latencies (times to first token, or gaps between tokens), for their p99.
 *
 * Guarantees: two HDR histograms take turns every `spanMs`, so a sample counts for between
 * `spanMs` and 2 × `spanMs` after it was recorded, then is forgotten (a deployment whose
 * speed changed is judged by its new speed within 2 × `spanMs`). `p99` is undefined while
 * fewer than `minSamples` recent samples are held. Values are kept to 2 significant digits.
 * The p99 is recomputed (about 50 µs: two histograms merged) at most every 64 samples or
 * 250 ms, so it may miss the latest 63 samples for up to 250 ms. (Every 16 samples, the
 * merges were about 1% of a loaded executor's CPU: a stream's every gap is a sample.)
 */
export class LatencyHistory {
  private current = histogram();
  private previous = histogram();
  private readonly merged = histogram();
  private currentStart: number;
  private cachedP99: number | undefined;
  private dirty = true;
  private sinceCompute = 0;
  private computedAt = -Infinity;

  constructor(
    private readonly now: () => number,
    private readonly spanMs = 30_000,
    private readonly minSamples = 20,
  ) {
    this.currentStart = now();
  }

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    this.rotate();
    this.current.recordValue(Math.min(HIGHEST_MS, Math.max(1, Math.round(ms))));
    this.dirty = true;
    this.sinceCompute++;
  }

  /** Recent samples held. */
  get count(): number {
    this.rotate();
    return this.current.totalCount + this.previous.totalCount;
  }

  /** p99 of the recent samples, in ms; undefined without enough history. */
  get p99(): number | undefined {
    if (this.count < this.minSamples) return undefined;
    const now = this.now();
    const fresh = this.cachedP99 !== undefined && this.sinceCompute < RECOMPUTE_SAMPLES && now - this.computedAt < RECOMPUTE_MS;
    if (this.dirty && !fresh) {
      this.sinceCompute = 0;
      this.computedAt = now;
      this.merged.reset();
      this.merged.add(this.previous);
      this.merged.add(this.current);
      this.cachedP99 = this.merged.getValueAtPercentile(99);
      this.dirty = false;
    }
    return this.cachedP99;
  }

  private rotate(): void {
    const now = this.now();
    const age = now - this.currentStart;
    if (age < this.spanMs) return;
    if (age >= 2 * this.spanMs) {
      this.previous.reset();
      this.current.reset();
    } else {
      [this.previous, this.current] = [this.current, this.previous];
      this.current.reset();
    }
    this.currentStart = now;
    this.dirty = true;
    this.cachedP99 = undefined;
  }
}

/** Recent times to first token of a tier, for the hedge delay (its p95). */
export class TtftTracker {
  private readonly samples: Float64Array;
  private count = 0;
  private cachedP95 = 0;
  private sinceCompute = 0;

  constructor(private readonly size = 256) {
    this.samples = new Float64Array(size);
  }

  record(ms: number): void {
    this.samples[this.count % this.size] = ms;
    this.count++;
    if (++this.sinceCompute >= 16) this.compute();
  }

  /** p95 of the recent samples; 0 until there are 20. */
  get p95(): number {
    return this.count >= 20 ? this.cachedP95 : 0;
  }

  private compute(): void {
    this.sinceCompute = 0;
    const n = Math.min(this.count, this.size);
    // A typed array sorts numerically, natively, with no comparator calls.
    const sorted = this.samples.slice(0, n).sort();
    this.cachedP95 = sorted[Math.min(n - 1, Math.floor(n * 0.95))]!;
  }
}

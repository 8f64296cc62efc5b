/**
 * Fixed latency buckets (upper bounds, ms) for TTFT and latency in the hourly aggregates: about
 * 25% apart from 10 ms to 2 min, so a percentile read from them is within one bucket (≤25%) of
 * the true value, in 42 counters an aggregate can add up exactly (HDR histograms merge too, but
 * their encoded form is several times larger for this range). The last counter is above 120 s.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 600, 800, 1_000, 1_250, 1_500, 2_000, 2_500, 3_000, 4_000,
  5_000, 6_000, 8_000, 10_000, 12_500, 15_000, 20_000, 25_000, 30_000, 40_000, 50_000, 60_000, 80_000, 100_000, 120_000,
];

/** Index of the bucket counting `ms` (the first whose bound is ≥ ms; the overflow bucket past the last). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = LATENCY_BUCKETS_MS.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (LATENCY_BUCKETS_MS[mid]! >= ms) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Adds `ms` to a bucket array (grown to full length). */
export function addToBuckets(buckets: bigint[], ms: number): void {
  while (buckets.length <= LATENCY_BUCKETS_MS.length) buckets.push(0n);
  buckets[bucketOf(ms)]! += 1n;
}

/** Adds `from` into `into`. */
export function mergeBuckets(into: bigint[], from: readonly bigint[]): void {
  while (into.length < from.length) into.push(0n);
  for (const [i, n] of from.entries()) into[i]! += n;
}

/**
 * The `q` quantile (0..1) as the upper bound of the bucket holding it; 0 for no samples. The
 * overflow bucket reads as the last bound.
 */
export function bucketQuantile(buckets: readonly bigint[], q: number): number {
  const total = buckets.reduce((a, b) => a + b, 0n);
  if (total === 0n) return 0;
  const rank = BigInt(Math.max(1, Math.ceil(q * Number(total))));
  let seen = 0n;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i]!;
    if (seen >= rank) return LATENCY_BUCKETS_MS[Math.min(i, LATENCY_BUCKETS_MS.length - 1)]!;
  }
  return LATENCY_BUCKETS_MS.at(-1)!;
}

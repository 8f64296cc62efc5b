export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface Share {
  count: number;
  /** count / total, 0 when there is nothing to count. */
  share: number;
}

/** Milliseconds to 0.1 ms, so reports do not show floating-point noise. */
export const roundMs = (ms: number): number => Math.round(ms * 10) / 10;

/** Nearest-rank percentile of ascending `sorted` (the smallest value with at least p% at or below it). */
export function nearestRank(sorted: readonly number[], p: number): number {
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}

/** p50, p95, p99 and max of `values`; null when there are none. */
export function percentiles(values: readonly number[]): Percentiles | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return {
    p50: roundMs(nearestRank(sorted, 50)),
    p95: roundMs(nearestRank(sorted, 95)),
    p99: roundMs(nearestRank(sorted, 99)),
    max: roundMs(sorted[sorted.length - 1]!),
  };
}

/** How many of `values` are strictly above `threshold`, and their share. */
export function above(values: readonly number[], threshold: number): Share {
  const count = values.filter((v) => v > threshold).length;
  return { count, share: values.length === 0 ? 0 : Math.round((count / values.length) * 10_000) / 10_000 };
}

/** z-score of the 99th percentile of the standard normal distribution. */
const Z_P99 = 2.326;

export interface LatencyDistribution {
  readonly median: number;
  readonly p99: number;
}

/** One standard-normal draw via Box–Muller, using the injected uniform source. */
export function standardNormal(random: () => number): number {
  // random() is in [0, 1); 1 - u is in (0, 1], so the log is finite.
  const u1 = 1 - random();
  const u2 = random();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/**
 * Samples a delay in milliseconds from the lognormal distribution whose median
 * and p99 match `dist` (sigma = ln(p99 / median) / 2.326). A median of 0 means
 * "no delay" and consumes no randomness.
 */
export function sampleDelayMs(dist: LatencyDistribution, random: () => number): number {
  if (dist.median <= 0) return 0;
  const sigma = dist.p99 > dist.median ? Math.log(dist.p99 / dist.median) / Z_P99 : 0;
  if (sigma === 0) return dist.median;
  return dist.median * Math.exp(sigma * standardNormal(random));
}

/** Sum of `count` independent samples; 0 without drawing when the median is 0. */
export function sampleTotalDelayMs(dist: LatencyDistribution, count: number, random: () => number): number {
  if (dist.median <= 0) return 0;
  let total = 0;
  for (let i = 0; i < count; i += 1) total += sampleDelayMs(dist, random);
  return total;
}

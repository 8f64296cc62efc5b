/** What the selector knows about one deployment at the moment of choosing. */
export interface Candidate {
  id: string;
  /** Relative share of traffic; positive. */
  weight: number;
  /** Attempts in flight to this deployment now. */
  outstanding: number;
  /** Recent EWMA time to first token; 0 when not measured yet. */
  latencyMs: number;
}

export type SelectionStrategy = "weighted" | "least_outstanding" | "lowest_latency";

/**
 * Picks the deployment for an attempt among `candidates` (the caller has already left
 * out deployments whose breaker is open or that this request already tried).
 *
 * Guarantees: `undefined` only for an empty list; otherwise one of `candidates`.
 * - weighted: chosen with probability proportional to weight.
 * - least_outstanding: one with the fewest attempts in flight; ties by weight.
 * - lowest_latency: any with unknown latency (0) first, by weight, so new deployments
 *   get measured; otherwise one with the lowest latency, ties by weight.
 * Pure: the same inputs and `random` values give the same choice.
 */
export function selectDeployment(
  strategy: SelectionStrategy,
  candidates: readonly Candidate[],
  random: () => number,
): Candidate | undefined {
  if (candidates.length === 0) return undefined;
  switch (strategy) {
    case "weighted":
      return pickWeighted(candidates, random);
    case "least_outstanding":
      return pickWeighted(
        minimal(candidates, (c) => c.outstanding),
        random,
      );
    case "lowest_latency": {
      const unmeasured = candidates.filter((c) => c.latencyMs === 0);
      return pickWeighted(unmeasured.length > 0 ? unmeasured : minimal(candidates, (c) => c.latencyMs), random);
    }
  }
}

/** The candidates sharing the lowest `score`. */
function minimal(candidates: readonly Candidate[], score: (c: Candidate) => number): Candidate[] {
  let best = Infinity;
  let tied: Candidate[] = [];
  for (const c of candidates) {
    const s = score(c);
    if (s < best) {
      best = s;
      tied = [c];
    } else if (s === best) {
      tied.push(c);
    }
  }
  return tied.length > 0 ? tied : [...candidates];
}

/** Weighted random pick from a non-empty list; non-positive weights count as zero unless all are, then it is uniform. */
function pickWeighted(candidates: readonly Candidate[], random: () => number): Candidate {
  if (candidates.length === 1) return candidates[0]!;
  let total = 0;
  for (const c of candidates) total += Math.max(0, c.weight);
  if (!(total > 0)) return candidates[Math.min(candidates.length - 1, Math.floor(random() * candidates.length))]!;
  let point = random() * total;
  for (const c of candidates) {
    point -= Math.max(0, c.weight);
    if (point < 0) return c;
  }
  // random() of 1 (out of contract) or rounding: the last candidate with weight.
  for (let i = candidates.length - 1; i >= 0; i--) if (candidates[i]!.weight > 0) return candidates[i]!;
  return candidates[candidates.length - 1]!;
}

/**
 * Exponentially weighted moving average over samples.
 *
 * Guarantees: `value` is 0 until the first sample, then equals it, then moves toward
 * each new sample so that a sample's weight halves every `halfLifeSamples` samples.
 * Non-finite samples are ignored.
 */
export class Ewma {
  private readonly alpha: number;
  private current = 0;
  private seen = false;

  constructor(halfLifeSamples = 10) {
    if (!(halfLifeSamples > 0)) throw new RangeError(`halfLifeSamples must be positive, got ${halfLifeSamples}`);
    this.alpha = 1 - 0.5 ** (1 / halfLifeSamples);
  }

  update(x: number): void {
    if (!Number.isFinite(x)) return;
    this.current = this.seen ? this.current + this.alpha * (x - this.current) : x;
    this.seen = true;
  }

  get value(): number {
    return this.current;
  }
}

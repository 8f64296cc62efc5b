/** The configured tiers ordered by rank, with rank arithmetic. Built once per config. */
export class TierLadder {
  /** Tier names, highest rank first. */
  readonly names: readonly string[];
  private readonly ranks: ReadonlyMap<string, number>;

  constructor(tiers: Readonly<Record<string, { readonly rank: number }>>) {
    this.names = Object.entries(tiers)
      .sort(([, a], [, b]) => b.rank - a.rank)
      .map(([name]) => name);
    this.ranks = new Map(Object.entries(tiers).map(([name, t]) => [name, t.rank]));
  }

  has(tier: string): boolean {
    return this.ranks.has(tier);
  }

  rank(tier: string): number {
    const r = this.ranks.get(tier);
    if (r === undefined) throw new RangeError(`unknown tier "${tier}"`);
    return r;
  }

  get highest(): string {
    return this.names[0]!;
  }

  get lowest(): string {
    return this.names[this.names.length - 1]!;
  }

  /** `tier` moved into [min, max]. */
  clamp(tier: string, min: string, max: string): string {
    if (this.rank(tier) > this.rank(max)) return max;
    if (this.rank(tier) < this.rank(min)) return min;
    return tier;
  }

  /** True when `a` ranks strictly above `b`. */
  above(a: string, b: string): boolean {
    return this.rank(a) > this.rank(b);
  }
}

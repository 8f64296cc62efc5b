/**
 * The router's own view of a tier from its calls, used when tier status is stale: after
 * `threshold` failed calls in a row the tier counts as down for `coolMs`, then one call
 * is let through to try it again.
 */
export class PassiveTierBreaker {
  private readonly failures = new Map<string, number>();
  private readonly openUntil = new Map<string, number>();

  constructor(
    private readonly threshold = 5,
    private readonly coolMs = 5_000,
  ) {}

  record(tier: string, ok: boolean, now = Date.now()): void {
    if (ok) {
      this.failures.delete(tier);
      this.openUntil.delete(tier);
      return;
    }
    const n = (this.failures.get(tier) ?? 0) + 1;
    this.failures.set(tier, n);
    if (n >= this.threshold) this.openUntil.set(tier, now + this.coolMs);
  }

  /** True while the tier is considered down by this router's own experience. */
  isOpen(tier: string, now = Date.now()): boolean {
    const until = this.openUntil.get(tier);
    if (until === undefined) return false;
    if (now < until) return true;
    // Cool-off over: half-open, one more failure re-opens.
    this.openUntil.delete(tier);
    this.failures.set(tier, this.threshold - 1);
    return false;
  }
}

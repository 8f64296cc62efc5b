/** Tolerance for float drift when summing fractional deposits (0.1 × 10 is 0.9999…). */
const EPSILON = 1e-9;

/**
 * Retry budget as a token bucket, after Finagle's RetryBudget and Envoy's retry budgets.
 *
 * Guarantees: every first attempt deposits `ratio` tokens (the bucket holds at most
 * `cap`, by default max(10, ratio × 100)); a retry spends one token. When the bucket is
 * empty, a retry is still allowed while fewer than `minPerSecond` retries (token-paid
 * ones included) were allowed in the current wall-clock second, so a quiet tier can
 * retry. Over any run of N first attempts spanning S calendar seconds, at most
 * ratio × N + ⌈minPerSecond × S⌉ retries are allowed. A fractional `minPerSecond`
 * spreads over seconds (0.5 allows one retry every other second).
 */
export class RetryBudget {
  private tokens = 0;
  private second = Number.NaN;
  private allowedThisSecond = 0;

  constructor(
    private readonly ratio: number,
    private readonly minPerSecond: number,
    private readonly now: () => number = () => Date.now(),
    private readonly cap: number = Math.max(10, ratio * 100),
  ) {
    if (!(ratio >= 0) || !(minPerSecond >= 0) || !(cap >= 0)) throw new RangeError("retry budget settings must be non-negative numbers");
  }

  /** Call once per first attempt (never for retries or hedges). */
  deposit(): void {
    this.tokens = Math.min(this.cap, this.tokens + this.ratio);
  }

  /** Whether one more retry may be made now; `true` has already charged the budget for it. */
  tryRetry(): boolean {
    const second = Math.floor(this.now() / 1_000);
    if (second !== this.second) {
      this.second = second;
      this.allowedThisSecond = 0;
    }
    if (this.tokens >= 1 - EPSILON) {
      this.tokens = Math.max(0, this.tokens - 1);
    } else if (this.allowedThisSecond >= floorQuota(this.minPerSecond, second)) {
      return false;
    }
    this.allowedThisSecond++;
    return true;
  }

  /** Whole tokens available now (for metrics). */
  get available(): number {
    return Math.floor(this.tokens + EPSILON);
  }
}

/**
 * Hedge budget: each request deposits `maxExtraRatio`, each hedge spends one token, and
 * there is no floor, so hedges never exceed `maxExtraRatio` × requests since creation.
 */
export class HedgeBudget {
  private readonly budget: RetryBudget;

  constructor(maxExtraRatio: number, cap?: number) {
    this.budget = new RetryBudget(maxExtraRatio, 0, () => 0, cap);
  }

  /** Call once per request that could be hedged. */
  deposit(): void {
    this.budget.deposit();
  }

  /** Whether a hedged attempt may be started now; `true` has already charged the budget for it. */
  tryHedge(): boolean {
    return this.budget.tryRetry();
  }
}

/** Retries the floor allows in epoch second `second`: the per-second rate, with fractions carried between seconds. */
function floorQuota(perSecond: number, second: number): number {
  if (Number.isInteger(perSecond)) return perSecond;
  return Math.floor((second + 1) * perSecond) - Math.floor(second * perSecond);
}

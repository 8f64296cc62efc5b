/** Successes kept for the streak; leaving down never needs anywhere near this many. */
const MAX_KEPT = 1_024;

/**
 * Which outcomes are evidence about a tier now, judged by when their attempts started.
 *
 * A success counts toward leaving down only if its attempt started at or after the latest
 * failing attempt started and after the tier went down: requests caught in flight by the
 * outage cannot make a recovery, and a hung attempt that times out late does not undo
 * successes that started after it. Once the tier has left down, outcomes of attempts that
 * started before that recovery's evidence belong to the outage and are ignored.
 */
export class RecoveryEvidence {
  /** Successes count when their attempt started at or after this. */
  private since = -Infinity;
  /** Outcomes of attempts started before this are the last outage's. */
  private staleBefore = -Infinity;
  /** Start times of the counted successes, ascending. */
  private starts: number[] = [];

  /** Successes since the latest failure (by attempt start) and since the tier went down. */
  get streak(): number {
    return this.starts.length;
  }

  /** False for an attempt that started before the tier last left down. */
  isCurrent(startMs: number): boolean {
    return startMs >= this.staleBefore;
  }

  success(startMs: number): void {
    if (startMs < this.since) return;
    let i = this.starts.length;
    while (i > 0 && this.starts[i - 1]! > startMs) i--;
    this.starts.splice(i, 0, startMs);
    if (this.starts.length > 2 * MAX_KEPT) this.starts = this.starts.slice(-MAX_KEPT);
  }

  failure(startMs: number): void {
    if (startMs <= this.since) return;
    this.since = startMs;
    this.dropBefore(startMs);
  }

  /** The tier went down at `now`: only successes of attempts started from now on count. */
  wentDown(now: number): void {
    this.since = Math.max(this.since, now);
    this.starts = [];
  }

  /** The tier left down: what started before its fresh evidence is the outage's. */
  leftDown(): void {
    this.staleBefore = Math.max(this.staleBefore, this.since);
  }

  private dropBefore(startMs: number): void {
    let n = 0;
    while (n < this.starts.length && this.starts[n]! < startMs) n++;
    if (n > 0) this.starts.splice(0, n);
  }
}

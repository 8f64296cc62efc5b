/**
 * When each deployment is due for a canary probe: every `intervalMs`, or every
 * `downIntervalMs` while its tier is down or recovering from down. The prober ticks every
 * `tickMs` and asks; a deployment whose probe is still in flight is not asked at all, so it
 * is probed at the first tick after that probe ends.
 */
export class ProbeSchedule {
  readonly tickMs: number;
  private readonly fastMs: number;
  private readonly lastStart = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    downIntervalMs: number,
  ) {
    this.fastMs = Math.min(intervalMs, downIntervalMs);
    this.tickMs = this.fastMs;
  }

  /** True when a probe of `key` should start now; it then counts as started. */
  take(key: string, now: number, recovering: boolean): boolean {
    const every = recovering ? this.fastMs : this.intervalMs;
    const last = this.lastStart.get(key);
    // Half a tick of slack: timers drift, and a probe due just after a tick must not wait a whole one.
    if (last !== undefined && now - last < every - this.tickMs / 2) return false;
    this.lastStart.set(key, now);
    return true;
  }
}

/**
 * What the schedule says about one deployment at one tick: send a probe; skip it because
 * real traffic showed the deployment's health within the interval, or because the provider
 * asked to wait (Retry-After); or nothing is due.
 */
export type ProbeDecision = "probe" | "covered" | "cooling" | "wait";

/**
 * When each deployment is due for a canary probe: when neither a probe nor real traffic has
 * shown its health for `intervalMs`, or `downIntervalMs` while its tier is down or recovering
 * (traffic then goes elsewhere, so its deployments are probed that often), and never inside a
 * wait its provider asked for. The prober ticks every `tickMs` and asks; a deployment whose
 * probe is still in flight is not asked at all, so it is probed at the first tick after that
 * probe ends. A skip is reported at most once per interval, so it can be counted.
 */
export class ProbeSchedule {
  readonly tickMs: number;
  private readonly fastMs: number;
  private readonly lastStart = new Map<string, number>();
  private readonly lastSkip = new Map<string, number>();
  private readonly coolingUntil = new Map<string, number>();

  constructor(
    private readonly intervalMs: number,
    downIntervalMs: number,
  ) {
    this.fastMs = Math.min(intervalMs, downIntervalMs);
    this.tickMs = this.fastMs;
  }

  /** True when a probe of `key` should start now; it then counts as started. */
  take(key: string, now: number, recovering: boolean, trafficAt?: number): boolean {
    return this.decide(key, now, recovering, trafficAt) === "probe";
  }

  /** Decides for `key` at `now`, given when real traffic last showed its health; a "probe" counts as started. */
  decide(key: string, now: number, recovering: boolean, trafficAt?: number): ProbeDecision {
    const every = recovering ? this.fastMs : this.intervalMs;
    // Half a tick of slack: timers drift, and a probe due just after a tick must not wait a whole one.
    const due = (since: number | undefined) => since === undefined || now - since >= every - this.tickMs / 2;
    if (!due(this.lastStart.get(key))) return "wait";
    const skip = now < (this.coolingUntil.get(key) ?? 0) ? "cooling" : !due(trafficAt) ? "covered" : undefined;
    if (skip) {
      if (!due(this.lastSkip.get(key))) return "wait";
      this.lastSkip.set(key, now);
      return skip;
    }
    this.lastStart.set(key, now);
    return "probe";
  }

  /** The provider asked to wait (Retry-After): no probe of `key` before `until` (epoch ms). */
  coolDown(key: string, until: number): void {
    this.coolingUntil.set(key, Math.max(until, this.coolingUntil.get(key) ?? 0));
  }
}

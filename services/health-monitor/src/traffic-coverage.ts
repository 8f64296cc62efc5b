import { OutcomeStatus, type Outcome } from "@tiermesh/proto";

/**
 * Outcomes of real traffic that show how a deployment is doing: it answered, failed, hung or
 * asked to wait. Client errors and cancellations say nothing about it.
 */
const SHOWS_HEALTH: ReadonlySet<OutcomeStatus> = new Set([
  OutcomeStatus.OK,
  OutcomeStatus.ERROR,
  OutcomeStatus.TIMEOUT,
  OutcomeStatus.STALLED,
  OutcomeStatus.RATE_LIMITED,
]);

/**
 * When real traffic last showed each deployment's health, from the executors' outcome
 * reports. A deployment that traffic covers needs no canary probe: probing it would only add
 * billed provider calls (and take one-time answers meant for users).
 */
export class TrafficCoverage {
  private readonly last = new Map<string, number>();

  /** Notes a reported outcome received at `now`; probes and outcomes that show nothing are ignored. */
  record(o: Outcome, now: number): void {
    if (o.probe || o.deployment === "" || !SHOWS_HEALTH.has(o.status)) return;
    this.last.set(key(o.tier, o.deployment), now);
  }

  /** When traffic last showed this deployment's health (epoch ms), if ever. */
  lastSeen(tier: string, deployment: string): number | undefined {
    return this.last.get(key(tier, deployment));
  }
}

function key(tier: string, deployment: string): string {
  return `${tier}\u0000${deployment}`;
}

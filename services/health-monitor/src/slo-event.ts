import type { TierSloConfig } from "@tiermesh/config";
import { OutcomeStatus, type Outcome } from "@tiermesh/proto";

/** How one attempt counts toward its tier's SLOs (tiers.<tier>.slo). */
export interface SloEvent {
  /** Availability SLI: good when the attempt succeeded; errors, timeouts and stalls are bad. */
  ok: boolean;
  /** Latency SLI, for successes only: bad when the time to first token exceeded `ttft_p95_ms`. */
  slow: boolean;
}

/**
 * The SLO event of an outcome, or undefined when it does not count: the caller's own mistakes,
 * cancellations and 429s (the provider asking to wait) burn no budget of the tier.
 */
export function sloEventOf(o: Outcome, slo: TierSloConfig): SloEvent | undefined {
  if (o.status === OutcomeStatus.CLIENT_ERROR || o.status === OutcomeStatus.CANCELLED || o.status === OutcomeStatus.RATE_LIMITED)
    return undefined;
  const ok = o.status === OutcomeStatus.OK;
  return { ok, slow: ok && o.ttftMs > slo.ttft_p95_ms };
}

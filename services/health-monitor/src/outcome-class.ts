import { OutcomeStatus, type Outcome } from "@tiermesh/proto";

/**
 * Outcomes that count as the tier (and the deployment) failing an attempt. A stall is a
 * hang caught early: the executor moved the attempt off a deployment that stopped producing
 * first tokens, long before its TTFT timeout.
 */
const FAILURES: ReadonlySet<OutcomeStatus> = new Set([OutcomeStatus.ERROR, OutcomeStatus.TIMEOUT, OutcomeStatus.STALLED]);

export function isTierFailure(status: OutcomeStatus): boolean {
  return FAILURES.has(status);
}

/**
 * When the attempt started, in epoch ms: its end (`atMs`; `now` when the reporter left it
 * unset) minus its latency. Fresh evidence is judged by when an attempt started: a request
 * admitted during an outage says nothing about the provider after it, however late it ends.
 */
export function attemptStartMs(o: Outcome, now: number): number {
  const end = o.atMs > 0n ? Number(o.atMs) : now;
  return end - o.latencyMs;
}

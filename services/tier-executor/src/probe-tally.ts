/** The canary probes one deployment received in this executor: provider calls made, their cost, and refusals. */
export class ProbeTally {
  /** Probes sent to the provider (each a billed call), whatever their outcome. */
  sent = 0;
  /** What they cost, in US dollars (0 for those that failed: providers bill answers). */
  costUsd = 0;
  /** Probes refused without a provider call while the deployment cooled down (Retry-After). */
  refused = 0;

  /** One probe call ended; `costUsd` is what its answer cost. */
  called(costUsd: number): void {
    this.sent++;
    this.costUsd += costUsd;
  }
}

/**
 * What the drill records: one sample per request, and the moments the fault began and
 * ended. All times are milliseconds on one monotonic clock (`performance.now()`).
 */
export interface Sample {
  seq: number;
  /** End user sent as `input.user`; "" for callers without one. */
  user: string;
  /** When the open-loop schedule wanted it sent; `sentAt - scheduledAt` is the drill's own lag. */
  scheduledAt: number;
  sentAt: number;
  /** First piece of the answer (or the whole answer) reached the drill; undefined when it failed first. */
  firstTokenAt: number | undefined;
  endedAt: number;
  ok: boolean;
  /** Connect error code ("unavailable", "deadline_exceeded"...), "http_<status>" or "network"; "" when ok. */
  errorCode: string;
  errorMessage: string;
  requestedTier: string;
  servedTier: string;
  /** Tiers the router tried (more than 1 means in-request fallback). */
  tierAttempts: number;
  /** Provider attempts across tiers (more than 1 means retries). */
  providerAttempts: number;
  /** The router's own `timings.ttftUs`, in ms. */
  serverTtftMs: number | undefined;
}

export interface Timeline {
  trafficStartAt: number;
  /** The fault was sent to the simulator (requests already in flight may meet it too). */
  faultStartAt: number;
  /** The restored profile was sent to the simulator. */
  faultEndAt: number;
  /** The last request was sent before this. */
  trafficEndAt: number;
}

/** The requested tier's objectives, from its config, that the drill measures against. */
export interface TierObjectives {
  tier: string;
  /** `slo.ttft_p95_ms`. */
  sloTtftMs: number;
  /** `timeouts.ttft_ms`. */
  ttftTimeoutMs: number;
  /** `slo.latency_target`: share of answers whose TTFT must be within `sloTtftMs`. */
  latencyTarget: number;
  /** `slo.availability_target`: share of requests that must be answered. */
  availabilityTarget: number;
}

/**
 * Span attribute names. GenAI names follow the OpenTelemetry GenAI semantic conventions
 * (still in development there, so they are spelled out here rather than imported from the
 * package's deprecated incubating entry); tiermesh's own live under `tiermesh.`.
 */
export const GenAI = {
  operationName: "gen_ai.operation.name",
  /** Current name of the provider attribute; `system` is its older spelling, still read by many backends. */
  providerName: "gen_ai.provider.name",
  system: "gen_ai.system",
  requestModel: "gen_ai.request.model",
  requestMaxTokens: "gen_ai.request.max_tokens",
  requestTemperature: "gen_ai.request.temperature",
  requestStream: "gen_ai.request.stream",
  responseModel: "gen_ai.response.model",
  responseFinishReasons: "gen_ai.response.finish_reasons",
  responseTimeToFirstChunk: "gen_ai.response.time_to_first_chunk",
  usageInputTokens: "gen_ai.usage.input_tokens",
  usageOutputTokens: "gen_ai.usage.output_tokens",
  outputType: "gen_ai.output.type",
  tokenType: "gen_ai.token.type",
} as const;

export const Tiermesh = {
  tier: "tiermesh.tier",
  tierRequested: "tiermesh.tier.requested",
  tierServed: "tiermesh.tier.served",
  tierRouted: "tiermesh.tier.routed",
  tiersPlanned: "tiermesh.tiers.planned",
  tenant: "tiermesh.tenant",
  plan: "tiermesh.plan",
  urgency: "tiermesh.urgency",
  reasons: "tiermesh.reasons",
  ruleIds: "tiermesh.rule_ids",
  fallback: "tiermesh.fallback",
  promoted: "tiermesh.promoted",
  tierAttempts: "tiermesh.tier_attempts",
  providerAttempts: "tiermesh.provider_attempts",
  continuations: "tiermesh.continuations",
  cached: "tiermesh.cached",
  hedged: "tiermesh.hedged",
  costUsd: "tiermesh.cost_usd",
  requestId: "tiermesh.request_id",
  deployment: "tiermesh.deployment",
  attempt: "tiermesh.attempt",
  probe: "tiermesh.probe",
  outcomeStatus: "tiermesh.outcome.status",
  tierState: "tiermesh.tier.state",
  tierPreviousState: "tiermesh.tier.previous_state",
  sequence: "tiermesh.status.sequence",
} as const;

/** Messaging attributes (OpenTelemetry messaging semantic conventions) for NATS. */
export const Messaging = {
  system: "messaging.system",
  operationType: "messaging.operation.type",
  operationName: "messaging.operation.name",
  destination: "messaging.destination.name",
  batchCount: "messaging.batch.message_count",
  bodySize: "messaging.message.body.size",
} as const;

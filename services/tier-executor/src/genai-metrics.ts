import { OutcomeStatus } from "@tiermesh/proto";
import { Histogram, type Registry } from "@tiermesh/runtime";
import type { OutcomeInit } from "@tiermesh/tier-status";

// Bucket boundaries the OpenTelemetry GenAI metric conventions advise.
const DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864];

const LABELS = ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "error_type"] as const;

/**
 * The OpenTelemetry GenAI client metrics, in Prometheus naming, for every provider call the
 * executor makes for users (probes are the monitor's to count): `gen_ai.client.operation.duration`
 * as `gen_ai_client_operation_duration_seconds`, `gen_ai.client.token.usage` as
 * `gen_ai_client_token_usage` (by `gen_ai_token_type`, input or output), and
 * `gen_ai.client.operation.time_to_first_chunk` as
 * `gen_ai_client_operation_time_to_first_chunk_seconds`. Fed from the attempts' outcome reports.
 */
export function genAiClientMetrics(registry: Registry): (outcome: OutcomeInit) => void {
  const duration = new Histogram({
    name: "gen_ai_client_operation_duration_seconds",
    help: "GenAI operation duration: one provider call, from request to the last chunk or the failure",
    labelNames: LABELS,
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const tokens = new Histogram({
    name: "gen_ai_client_token_usage",
    help: "Input and output tokens per provider call (provider usage, else tiermesh's estimate)",
    labelNames: ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model", "gen_ai_token_type"],
    buckets: TOKEN_BUCKETS,
    registers: [registry],
  });
  const firstChunk = new Histogram({
    name: "gen_ai_client_operation_time_to_first_chunk_seconds",
    help: "Time from the provider call to its first chunk of answer",
    labelNames: ["gen_ai_operation_name", "gen_ai_provider_name", "gen_ai_request_model"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  // Label objects are written out for each observation: prom-client reads an object built by
  // spreading (`{ ...base, x }`) about three times slower, and this runs for every provider call.
  return (o) => {
    if (o.probe) return;
    const provider = o.provider ?? "";
    const model = o.model ?? "";
    const ok = o.status === OutcomeStatus.OK;
    const errorType = ok ? "" : OutcomeStatus[o.status ?? OutcomeStatus.UNSPECIFIED];
    duration.observe(
      { gen_ai_operation_name: "chat", gen_ai_provider_name: provider, gen_ai_request_model: model, error_type: errorType },
      (o.latencyMs ?? 0) / 1_000,
    );
    if (!ok) return;
    tokens.observe(
      { gen_ai_operation_name: "chat", gen_ai_provider_name: provider, gen_ai_request_model: model, gen_ai_token_type: "input" },
      o.promptTokens ?? 0,
    );
    tokens.observe(
      { gen_ai_operation_name: "chat", gen_ai_provider_name: provider, gen_ai_request_model: model, gen_ai_token_type: "output" },
      o.completionTokens ?? 0,
    );
    const ttftMs = o.ttftMs ?? 0;
    if (ttftMs > 0) {
      firstChunk.observe({ gen_ai_operation_name: "chat", gen_ai_provider_name: provider, gen_ai_request_model: model }, ttftMs / 1_000);
    }
  };
}

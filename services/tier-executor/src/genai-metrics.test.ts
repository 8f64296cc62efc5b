import { OutcomeStatus } from "@tiermesh/proto";
import { Registry } from "@tiermesh/runtime";
import { describe, expect, it } from "vitest";
import { genAiClientMetrics } from "./genai-metrics.js";

describe("genAiClientMetrics", () => {
  it("records duration, token usage by type and time to first chunk per provider call; failures by type; probes not at all", async () => {
    const registry = new Registry();
    const observe = genAiClientMetrics(registry);
    const call = { tier: "gold", provider: "sim", model: "sim-gold", latencyMs: 300, ttftMs: 120, promptTokens: 20, completionTokens: 7 };
    observe({ ...call, status: OutcomeStatus.OK });
    observe({ ...call, status: OutcomeStatus.TIMEOUT, promptTokens: 0, completionTokens: 0 });
    observe({ ...call, status: OutcomeStatus.OK, probe: true });
    const text = await registry.metrics();
    const labels = 'gen_ai_operation_name="chat",gen_ai_provider_name="sim",gen_ai_request_model="sim-gold"';
    expect(text).toContain(`gen_ai_client_operation_duration_seconds_count{${labels},error_type=""} 1`);
    expect(text).toContain(`gen_ai_client_operation_duration_seconds_count{${labels},error_type="TIMEOUT"} 1`);
    expect(text).toContain(`gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="input"} 20`);
    expect(text).toContain(`gen_ai_client_token_usage_sum{${labels},gen_ai_token_type="output"} 7`);
    expect(text).toContain(`gen_ai_client_operation_time_to_first_chunk_seconds_sum{${labels}} 0.12`);
  });
});

import { create } from "@bufbuild/protobuf";
import { CompleteResponseSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { createRouterMetrics } from "./router-metrics.js";

describe("router GenAI server metrics", () => {
  it("time requests, first tokens and the time per output token after the first", async () => {
    // Only the GenAI metrics are read here; the others' sources are never asked.
    const metrics = createRouterMetrics({ tiers: [] } as never);
    metrics.request("gold", "gold", "ok", 0.5);
    metrics.request("gold", "", "Unavailable", 0.1);
    metrics.answered(
      create(CompleteResponseSchema, {
        model: "sim-gold",
        provider: "sim",
        usage: { completionTokens: 11 },
        timings: { ttftUs: 200_000n, totalUs: 1_200_000n },
      }),
    );
    const text = async (name: string) => metrics.registry.getSingleMetricAsString(name);
    expect(await text("gen_ai_server_request_duration_seconds")).toContain(
      'gen_ai_server_request_duration_seconds_count{service="router",gen_ai_operation_name="chat",error_type=""} 1',
    );
    expect(await text("gen_ai_server_request_duration_seconds")).toContain('error_type="Unavailable"');
    const labels = 'service="router",gen_ai_operation_name="chat",gen_ai_response_model="sim-gold",gen_ai_provider_name="sim"';
    expect(await text("gen_ai_server_time_to_first_token_seconds")).toContain(
      `gen_ai_server_time_to_first_token_seconds_sum{${labels}} 0.2`,
    );
    expect(await text("gen_ai_server_time_per_output_token_seconds")).toContain(
      `gen_ai_server_time_per_output_token_seconds_sum{${labels}} 0.1`,
    );
    // The existing metrics keep their names.
    expect(await text("tiermesh_router_requests_total")).toContain('requested_tier="gold"');
  });
});

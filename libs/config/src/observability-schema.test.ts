import { describe, expect, it } from "vitest";
import { ConfigError } from "./config-error.js";
import { observabilitySchema } from "./observability-schema.js";
import { parseConfig } from "./load-config.js";

const minimal = {
  router: { listen: "127.0.0.1:7400" },
  classifier: { listen: "127.0.0.1:7401" },
  health_monitor: { listen: "127.0.0.1:7402" },
  providers: { sim: { kind: "openai", base_url: "http://127.0.0.1:7490/v1" } },
  tiers: {
    gold: {
      rank: 1,
      executor: { listen: "127.0.0.1:7410" },
      models: [{ provider: "sim", model: "g", price: { input_per_mtok: 1, output_per_mtok: 2 } }],
    },
  },
  plans: { basic: { default_tier: "gold", max_tier: "gold" } },
};

const parse = (observability: unknown) => parseConfig(JSON.stringify({ ...minimal, observability }), "t.yaml", {});

describe("observability.tracing", () => {
  it("is off by default, with the collector's usual endpoint", () => {
    const c = parseConfig(JSON.stringify(minimal), "t.yaml", {});
    expect(c.observability.tracing).toEqual({
      enabled: false,
      endpoint: "http://127.0.0.1:4318/v1/traces",
      headers: {},
      sample_ratio: 1,
      service_name_prefix: "tiermesh",
      export_interval_ms: 1_000,
    });
  });

  it("keeps what is given", () => {
    const t = parse({
      tracing: { enabled: true, endpoint: "https://otel.example/v1/traces", headers: { "x-api-key": "k" }, sample_ratio: 0.1 },
    }).observability.tracing;
    expect(t).toMatchObject({
      enabled: true,
      endpoint: "https://otel.example/v1/traces",
      headers: { "x-api-key": "k" },
      sample_ratio: 0.1,
    });
  });

  it.each([
    [{ tracing: { sample_ratio: 1.5 } }, "observability.tracing.sample_ratio"],
    [{ tracing: { endpoint: "grpc://collector:4317" } }, "observability.tracing.endpoint"],
    [{ tracing: { headers: { "bad header": "x" } } }, "observability.tracing.headers"],
    [{ tracing: { exporter: "zipkin" } }, "observability.tracing"],
  ])("names the bad field's path: %j", (observability, path) => {
    let error: unknown;
    try {
      parse(observability);
    } catch (cause) {
      error = cause;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain(path);
  });

  it("parses on its own with every default", () => {
    expect(observabilitySchema.parse(undefined).tracing.enabled).toBe(false);
  });
});

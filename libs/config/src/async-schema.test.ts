import { describe, expect, it } from "vitest";
import { asyncSchema } from "./async-schema.js";
import { ConfigError } from "./config-error.js";
import { parseConfig } from "./load-config.js";

const yaml = (asyncSection: string) => `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  bronze: { rank: 1, executor: { listen: "127.0.0.1:7412" }, models: [{ provider: sim, model: b, price: { input_per_mtok: 1, output_per_mtok: 1 } }]${asyncSection} }
plans: {}
`;

describe("tiers.<name>.async", () => {
  it("is off unless enabled, with defaults for everything else; the jobs stream and buckets have names", () => {
    const config = parseConfig(yaml(""), "t.yaml", {});
    expect(config.tiers["bronze"]!.async).toEqual(asyncSchema.parse({}));
    expect(config.tiers["bronze"]!.async).toMatchObject({
      enabled: false,
      max_concurrency: 4,
      interactive_below: 0.5,
      retention_hours: 72,
      max_deliveries: 3,
      ack_wait_ms: 30_000,
      deadline_band_seconds: 300,
      event_loop_utilization_below: 0.9,
      event_loop_delay_below_ms: 0,
    });
    expect(config.nats).toMatchObject({ jobs_stream: "TIERMESH_JOBS", jobs_bucket: "tiermesh_jobs", files_bucket: "tiermesh_files" });
  });

  it("names the path of a bad field", () => {
    for (const [section, path] of [
      [", async: { enabled: true, ack_wait_ms: 10 }", "tiers.bronze.async.ack_wait_ms"],
      [", async: { max_deliveries: 0 }", "tiers.bronze.async.max_deliveries"],
      [", async: { interactive_below: 2 }", "tiers.bronze.async.interactive_below"],
      [", async: { enable: true }", "tiers.bronze.async"],
      [", async: { deadline_band_seconds: 0 }", "tiers.bronze.async.deadline_band_seconds"],
      [", async: { deadline_band_seconds: 1.5 }", "tiers.bronze.async.deadline_band_seconds"],
      [", async: { event_loop_utilization_below: 1.5 }", "tiers.bronze.async.event_loop_utilization_below"],
      [", async: { event_loop_delay_below_ms: -1 }", "tiers.bronze.async.event_loop_delay_below_ms"],
    ] as const) {
      expect(() => parseConfig(yaml(section), "t.yaml", {}), section).toThrow(ConfigError);
      try {
        parseConfig(yaml(section), "t.yaml", {});
      } catch (err) {
        expect((err as ConfigError).message).toContain(path);
      }
    }
  });
});

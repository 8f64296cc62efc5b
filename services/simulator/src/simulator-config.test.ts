import { describe, expect, it } from "vitest";
import { modelProfileSchema, simulatorConfigSchema } from "./simulator-config.js";

function firstIssue(input: unknown): { path: PropertyKey[]; message: string; keys?: string[] } {
  const result = simulatorConfigSchema.safeParse(input);
  if (result.success) throw new Error("expected a validation error");
  const issue = result.error.issues[0];
  if (issue === undefined) throw new Error("no issue");
  return { path: [...issue.path], message: issue.message, ...("keys" in issue ? { keys: issue.keys } : {}) };
}

describe("simulatorConfigSchema", () => {
  it("applies every default", () => {
    const config = simulatorConfigSchema.parse({ models: { "sim-a": {}, "sim-b": null } });
    expect(config.listen).toBe("127.0.0.1:7490");
    const expected = {
      ttft_ms: { median: 50, p99: 150 },
      inter_token_ms: { median: 5, p99: 15 },
      output_tokens: { min: 16, max: 48 },
      error_rate: 0,
      outage: false,
      rate_limit_rate: 0,
      retry_after_s: 1,
      hang_rate: 0,
      stream_cut_rate: 0,
      stream_stall_rate: 0,
      malformed_chunk_rate: 0,
      missing_done_rate: 0,
      fault_after_tokens: null,
      refuse_prefix: false,
      context_window: null,
      tool_use: "auto",
    };
    expect(config.models["sim-a"]).toEqual(expected);
    expect(config.models["sim-b"]).toEqual(expected);
  });

  it("rejects unknown keys with their path", () => {
    const issue = firstIssue({ models: { "sim-a": { error_rat: 0.1 } } });
    expect(issue.path).toEqual(["models", "sim-a"]);
    expect(issue.keys).toEqual(["error_rat"]);
  });

  it("rejects p99 below median", () => {
    expect(firstIssue({ models: { m: { ttft_ms: { median: 100, p99: 50 } } } }).path).toEqual(["models", "m", "ttft_ms", "p99"]);
  });

  it("rejects rates outside [0, 1] and inverted token ranges", () => {
    expect(firstIssue({ models: { m: { hang_rate: 1.5 } } }).path).toEqual(["models", "m", "hang_rate"]);
    expect(firstIssue({ models: { m: { output_tokens: { min: 9, max: 3 } } } }).path).toEqual(["models", "m", "output_tokens", "max"]);
  });

  it("validates listen as host:port", () => {
    expect(simulatorConfigSchema.parse({ listen: "[::1]:80", models: { m: {} } }).listen).toBe("[::1]:80");
    expect(firstIssue({ listen: "localhost", models: { m: {} } }).path).toEqual(["listen"]);
    expect(firstIssue({ listen: "h:70000", models: { m: {} } }).path).toEqual(["listen"]);
  });

  it("requires at least one model", () => {
    expect(firstIssue({ models: {} }).path).toEqual(["models"]);
  });

  it("exports the profile schema on its own", () => {
    expect(modelProfileSchema.parse({ outage: true }).outage).toBe(true);
  });
});

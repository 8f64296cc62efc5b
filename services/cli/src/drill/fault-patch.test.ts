import { modelProfileSchema } from "@tiermesh/simulator";
import { describe, expect, it } from "vitest";
import { activeFaults, faultPatch } from "./fault-patch.js";

const profile = modelProfileSchema.parse({ ttft_ms: { median: 100, p99: 400 }, inter_token_ms: { median: 5, p99: 20 } });
const o = { errorRate: 0.3, slowFactor: 3 };

describe("faultPatch", () => {
  it("maps each fault onto the simulator's profile fields", () => {
    expect(faultPatch("down", profile, o)).toEqual({ outage: true });
    expect(faultPatch("hang", profile, o)).toEqual({ hang_rate: 0.3 });
    expect(faultPatch("429", profile, o)).toEqual({ rate_limit_rate: 0.3 });
    expect(faultPatch("errors", profile, o)).toEqual({ error_rate: 0.3 });
  });

  it("slows a model by scaling its current latency distributions", () => {
    expect(faultPatch("slow", profile, o)).toEqual({ ttft_ms: { median: 300, p99: 1_200 }, inter_token_ms: { median: 15, p99: 60 } });
  });
});

describe("activeFaults", () => {
  it("lists faults already on", () => {
    expect(activeFaults(profile)).toEqual([]);
    expect(activeFaults({ ...profile, outage: true, hang_rate: 0.5 })).toEqual(["outage", "hang_rate 0.5"]);
  });
});

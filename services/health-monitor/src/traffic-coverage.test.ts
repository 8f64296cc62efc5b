import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { TrafficCoverage } from "./traffic-coverage.js";

const outcome = (status: OutcomeStatus, o: { probe?: boolean; deployment?: string } = {}) =>
  create(OutcomeSchema, { tier: "gold", deployment: o.deployment ?? "d1", status, probe: o.probe ?? false });

describe("TrafficCoverage", () => {
  it("remembers when real traffic last showed each deployment's health, success or failure", () => {
    const c = new TrafficCoverage();
    c.record(outcome(OutcomeStatus.OK), 100);
    c.record(outcome(OutcomeStatus.ERROR, { deployment: "d2" }), 150);
    c.record(outcome(OutcomeStatus.STALLED), 200);
    c.record(outcome(OutcomeStatus.RATE_LIMITED, { deployment: "d3" }), 250);
    expect(c.lastSeen("gold", "d1")).toBe(200);
    expect(c.lastSeen("gold", "d2")).toBe(150);
    expect(c.lastSeen("gold", "d3")).toBe(250);
    expect(c.lastSeen("silver", "d1")).toBeUndefined();
  });

  it("ignores probes and outcomes that say nothing about the deployment", () => {
    const c = new TrafficCoverage();
    c.record(outcome(OutcomeStatus.OK, { probe: true }), 100);
    c.record(outcome(OutcomeStatus.CLIENT_ERROR), 200);
    c.record(outcome(OutcomeStatus.CANCELLED), 300);
    c.record(outcome(OutcomeStatus.OK, { deployment: "" }), 400);
    expect(c.lastSeen("gold", "d1")).toBeUndefined();
  });
});

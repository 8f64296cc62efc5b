import { create } from "@bufbuild/protobuf";
import { OutcomeSchema, OutcomeStatus } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { SliWindow } from "./sli-window.js";

const outcome = (status: OutcomeStatus, ttftMs = 100, latencyMs = 500, costUsd = 0) =>
  create(OutcomeSchema, { tier: "gold", status, ttftMs, latencyMs, costUsd });

describe("SliWindow", () => {
  it("an empty window is all zeros", () => {
    const sli = new SliWindow(10_000).sli(5_000);
    expect(sli).toEqual({
      sampleCount: 0,
      errorRate: 0,
      timeoutRate: 0,
      rateLimitedRate: 0,
      ttftP50Ms: 0,
      ttftP95Ms: 0,
      ttftP99Ms: 0,
      latencyP95Ms: 0,
      costUsdPerMinute: 0,
      windowMs: 10_000,
    });
  });

  it("counts errors and timeouts as errors, rate limits apart", () => {
    const w = new SliWindow(10_000);
    for (let i = 0; i < 6; i++) w.record(outcome(OutcomeStatus.OK), 1_000);
    w.record(outcome(OutcomeStatus.ERROR), 1_000);
    w.record(outcome(OutcomeStatus.TIMEOUT), 1_000);
    w.record(outcome(OutcomeStatus.RATE_LIMITED), 1_000);
    w.record(outcome(OutcomeStatus.RATE_LIMITED), 1_000);
    const sli = w.sli(1_000);
    expect(sli.sampleCount).toBe(10);
    expect(sli.errorRate).toBeCloseTo(0.2, 10);
    expect(sli.timeoutRate).toBeCloseTo(0.1, 10);
    expect(sli.rateLimitedRate).toBeCloseTo(0.2, 10);
  });

  it("counts stalls (hangs caught before the TTFT timeout) as timeouts, so as errors", () => {
    const w = new SliWindow(10_000);
    for (let i = 0; i < 8; i++) w.record(outcome(OutcomeStatus.OK), 1_000);
    w.record(outcome(OutcomeStatus.STALLED, 0, 400), 1_000);
    w.record(outcome(OutcomeStatus.STALLED, 0, 400), 1_000);
    const sli = w.sli(1_000);
    expect(sli.sampleCount).toBe(10);
    expect(sli.errorRate).toBeCloseTo(0.2, 10);
    expect(sli.timeoutRate).toBeCloseTo(0.2, 10);
  });

  it("does not count client errors or cancellations", () => {
    const w = new SliWindow(10_000);
    w.record(outcome(OutcomeStatus.OK), 1_000);
    w.record(outcome(OutcomeStatus.CLIENT_ERROR, 0, 0, 1), 1_000);
    w.record(outcome(OutcomeStatus.CANCELLED, 0, 0, 1), 1_000);
    const sli = w.sli(1_000);
    expect(sli.sampleCount).toBe(1);
    expect(sli.errorRate).toBe(0);
    expect(sli.costUsdPerMinute).toBe(0);
  });

  it("TTFT percentiles come from successful outcomes only", () => {
    const w = new SliWindow(10_000);
    for (let ms = 1; ms <= 100; ms++) w.record(outcome(OutcomeStatus.OK, ms, ms * 10), 2_000 + ms);
    w.record(outcome(OutcomeStatus.ERROR, 50_000), 2_500);
    const sli = w.sli(3_000);
    expect(sli.ttftP50Ms).toBe(50);
    expect(sli.ttftP95Ms).toBe(95);
    expect(sli.ttftP99Ms).toBe(99);
    expect(sli.latencyP95Ms).toBeGreaterThanOrEqual(945);
    expect(sli.latencyP95Ms).toBeLessThanOrEqual(955);
  });

  it("old slots fall out of the window", () => {
    const w = new SliWindow(10_000); // 10 slots of 1 s
    w.record(outcome(OutcomeStatus.ERROR), 500); // slot [0, 1000)
    w.record(outcome(OutcomeStatus.OK), 5_500); // slot [5000, 6000)
    expect(w.sli(9_999).sampleCount).toBe(2);
    expect(w.sli(10_000).sampleCount).toBe(1);
    expect(w.sli(10_000).errorRate).toBe(0);
    expect(w.sli(15_000).sampleCount).toBe(0);
  });

  it("a reused slot starts from zero", () => {
    const w = new SliWindow(10_000);
    for (let i = 0; i < 5; i++) w.record(outcome(OutcomeStatus.ERROR, 100), 500);
    // Same ring position, one window later.
    w.record(outcome(OutcomeStatus.OK, 700), 10_500);
    const sli = w.sli(10_500);
    expect(sli.sampleCount).toBe(1);
    expect(sli.errorRate).toBe(0);
    // HDR histogram with 2 significant digits: within 1%.
    expect(sli.ttftP95Ms).toBeGreaterThanOrEqual(700);
    expect(sli.ttftP95Ms).toBeLessThanOrEqual(707);
  });

  it("reports cost per minute over the window", () => {
    const w = new SliWindow(10_000);
    w.record(outcome(OutcomeStatus.OK, 100, 100, 0.25), 1_000);
    w.record(outcome(OutcomeStatus.ERROR, 0, 0, 0.25), 2_000);
    expect(w.sli(2_000).costUsdPerMinute).toBeCloseTo(3, 10);
  });

  it("clear() empties the window", () => {
    const w = new SliWindow(10_000);
    w.record(outcome(OutcomeStatus.ERROR), 1_000);
    w.clear();
    expect(w.sli(1_000).sampleCount).toBe(0);
    w.record(outcome(OutcomeStatus.OK), 1_100);
    expect(w.sli(1_100).sampleCount).toBe(1);
  });
});

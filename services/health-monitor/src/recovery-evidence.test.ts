import { describe, expect, it } from "vitest";
import { RecoveryEvidence } from "./recovery-evidence.js";

describe("RecoveryEvidence", () => {
  it("counts successes whose attempts started at or after the latest failing attempt started", () => {
    const e = new RecoveryEvidence();
    e.failure(1_000);
    e.success(900); // started before the failure: in flight through it, no evidence
    e.success(1_000);
    e.success(1_100);
    expect(e.streak).toBe(2);
  });

  it("a failure drops only the successes that started before it", () => {
    const e = new RecoveryEvidence();
    for (const start of [100, 200, 300, 400]) e.success(start);
    // A hung attempt started at 250 times out late: the two that started after it still count.
    e.failure(250);
    expect(e.streak).toBe(2);
    // A failure older than the evidence changes nothing.
    e.failure(150);
    expect(e.streak).toBe(2);
    e.failure(500);
    expect(e.streak).toBe(0);
  });

  it("successes arriving out of order are kept in start order", () => {
    const e = new RecoveryEvidence();
    for (const start of [300, 100, 400, 200]) e.success(start);
    e.failure(250);
    expect(e.streak).toBe(2);
  });

  it("after going down, only attempts started from then on count", () => {
    const e = new RecoveryEvidence();
    e.success(100);
    e.wentDown(1_000);
    expect(e.streak).toBe(0);
    e.success(999);
    expect(e.streak).toBe(0);
    e.success(1_000);
    expect(e.streak).toBe(1);
  });

  it("after leaving down, attempts started before the recovery's evidence are stale", () => {
    const e = new RecoveryEvidence();
    e.wentDown(1_000);
    e.failure(5_000); // the last failed probe of the outage
    expect(e.isCurrent(4_000)).toBe(true);
    e.leftDown();
    expect(e.isCurrent(4_999)).toBe(false);
    expect(e.isCurrent(5_000)).toBe(true);
  });

  it("keeps a bounded number of successes", () => {
    const e = new RecoveryEvidence();
    for (let i = 0; i < 10_000; i++) e.success(i);
    expect(e.streak).toBeGreaterThanOrEqual(1_024);
    expect(e.streak).toBeLessThanOrEqual(2_048);
  });
});

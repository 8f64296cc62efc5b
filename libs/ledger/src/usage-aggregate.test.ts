import { create } from "@bufbuild/protobuf";
import { UsageOutcome, UsageRecordSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { aggregateKeyOf, applyRecord, emptyAggregate, type RecordJudge } from "./usage-aggregate.js";

const judge: RecordJudge = {
  metTtft: (r) => r.outcome === UsageOutcome.OK && r.ttftMs <= 500,
  servedEntitled: (r) => r.outcome === UsageOutcome.OK && r.servedTier === r.entitledTier,
};
const record = (over: object = {}) =>
  create(UsageRecordSchema, {
    requestId: "r",
    tenant: "acme",
    entitledTier: "gold",
    requestedTier: "gold",
    servedTier: "gold",
    outcome: UsageOutcome.OK,
    costUsd: 0.5,
    promptTokens: 10,
    completionTokens: 5,
    ttftMs: 100,
    latencyMs: 300,
    atMs: BigInt(Date.UTC(2026, 10, 26, 14, 35)),
    ...over,
  });

describe("applyRecord", () => {
  it("keys records by tenant, entitled tier and hour", () => {
    expect(aggregateKeyOf(record())).toBe("acme.gold.2026112614");
    expect(aggregateKeyOf(record({ entitledTier: "", requestedTier: "silver" }))).toBe("acme.silver.2026112614");
  });

  it("counts each stream sequence once: redeliveries at or below the applied one are skipped", () => {
    const agg = emptyAggregate(record());
    expect(applyRecord(agg, record(), 5n, judge)).toBe(true);
    expect(applyRecord(agg, record(), 5n, judge)).toBe(false);
    expect(applyRecord(agg, record(), 3n, judge)).toBe(false);
    expect(applyRecord(agg, record({ servedTier: "silver", ttftMs: 900 }), 7n, judge)).toBe(true);
    expect(applyRecord(agg, record({ outcome: UsageOutcome.FAILED, costUsd: 0 }), 8n, judge)).toBe(true);
    expect(applyRecord(agg, record({ outcome: UsageOutcome.REFUSED, costUsd: 0 }), 9n, judge)).toBe(true);
    expect(agg).toMatchObject({
      appliedSequence: 9n,
      requests: 3n,
      ok: 2n,
      failed: 1n,
      refused: 1n,
      servedEntitled: 1n,
      metTtftSlo: 1n,
      costUsd: 1,
      promptTokens: 40n,
    });
  });
});

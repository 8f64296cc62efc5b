import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CompleteResponseSchema, UsageOutcome } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { answeredRecord, failedRecord } from "./usage-record.js";

const header = { requestId: "r1", tenant: "acme", user: "u", plan: "pro", entitledTier: "gold", requestedTier: "silver" };

describe("usage records", () => {
  it("carry an answer's tiers, tokens, cost, times and reasons", () => {
    const res = create(CompleteResponseSchema, {
      routing: { requestedTier: "gold", servedTier: "silver", reasons: ["budget pacing: ..."] },
      model: "m",
      provider: "p",
      usage: { promptTokens: 10, completionTokens: 5 },
      costUsd: 0.25,
      timings: { ttftUs: 120_400n, totalUs: 480_000n },
    });
    expect(answeredRecord(header, res, 1_000)).toMatchObject({
      ...header,
      servedTier: "silver",
      model: "m",
      promptTokens: 10,
      completionTokens: 5,
      costUsd: 0.25,
      ttftMs: 120,
      latencyMs: 480,
      outcome: UsageOutcome.OK,
      reasons: ["budget pacing: ..."],
      atMs: 1_000n,
    });
  });

  it("tell the tiers' failures from the caller's own errors, cancellations and budget refusals", () => {
    const outcome = (code: Code, refused = false) => failedRecord(header, new ConnectError("x", code), [], 5, refused).outcome;
    expect(outcome(Code.Unavailable)).toBe(UsageOutcome.FAILED);
    expect(outcome(Code.DeadlineExceeded)).toBe(UsageOutcome.FAILED);
    expect(outcome(Code.InvalidArgument)).toBe(UsageOutcome.REJECTED);
    expect(outcome(Code.Canceled)).toBe(UsageOutcome.CANCELLED);
    expect(outcome(Code.ResourceExhausted, true)).toBe(UsageOutcome.REFUSED);
    expect(failedRecord(header, new ConnectError("x", Code.Unavailable), [], 5).errorCode).toBe("Unavailable");
  });
});

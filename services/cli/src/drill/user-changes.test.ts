import { describe, expect, it } from "vitest";
import type { Sample } from "./sample.js";
import { userChanges } from "./user-changes.js";

const s = (seq: number, user: string, served: string, ok = true): Sample => ({
  seq,
  user,
  scheduledAt: seq * 100,
  sentAt: seq * 100,
  firstTokenAt: seq * 100 + 10,
  endedAt: seq * 100 + 20,
  ok,
  errorCode: ok ? "" : "unavailable",
  errorMessage: "",
  requestedTier: "gold",
  servedTier: ok ? served : "",
  tierAttempts: 1,
  providerAttempts: 1,
  serverTtftMs: undefined,
});

describe("userChanges", () => {
  it("follows each caller's served tier in send order; failures change nothing", () => {
    const samples = [
      s(0, "a", "gold"),
      s(1, "b", "gold"),
      s(2, "", "gold"),
      s(10, "a", "silver"),
      s(11, "b", "", false),
      s(12, "", "silver"),
      s(20, "a", "gold"),
      s(21, "b", "silver"),
      s(22, "", "gold"),
      s(30, "c", "gold"),
    ];
    const u = userChanges(samples, "gold", 500);
    expect(u).toMatchObject({ users: 3, movedOff: 2, backOnTier: 1, maxChanges: 2 });
    expect(u.list).toEqual([
      {
        user: "a",
        requests: 3,
        failed: 0,
        firstTier: "gold",
        lastTier: "gold",
        changes: [
          { atMs: 500, from: "gold", to: "silver" },
          { atMs: 1_500, from: "silver", to: "gold" },
        ],
      },
      { user: "b", requests: 3, failed: 1, firstTier: "gold", lastTier: "silver", changes: [{ atMs: 1_600, from: "gold", to: "silver" }] },
      { user: "c", requests: 1, failed: 0, firstTier: "gold", lastTier: "gold", changes: [] },
      {
        user: null,
        requests: 3,
        failed: 0,
        firstTier: "gold",
        lastTier: "gold",
        changes: [
          { atMs: 700, from: "gold", to: "silver" },
          { atMs: 1_700, from: "silver", to: "gold" },
        ],
      },
    ]);
  });

  it("counts a user first served elsewhere as moved", () => {
    expect(userChanges([s(0, "a", "silver")], "gold", 0)).toMatchObject({ movedOff: 1, backOnTier: 0, maxChanges: 0 });
  });
});

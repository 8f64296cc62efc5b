import { afterEach, describe, expect, it } from "vitest";
import { afterReply, afterReplyIdle, onAfterReplyError } from "./after-reply.js";

describe("afterReply", () => {
  afterEach(() => onAfterReplyError((err) => process.emitWarning(String(err))));

  it("runs queued work after the current turn's synchronous code and microtasks, in order", async () => {
    const seen: string[] = [];
    afterReply(() => seen.push("first"));
    afterReply(() => seen.push("second"));
    seen.push("sync");
    await Promise.resolve();
    seen.push("microtask");
    expect(seen).toEqual(["sync", "microtask"]);
    await afterReplyIdle();
    expect(seen).toEqual(["sync", "microtask", "first", "second"]);
  });

  it("reports a throw and still runs the rest", async () => {
    const errors: unknown[] = [];
    onAfterReplyError((err) => errors.push(err));
    const seen: number[] = [];
    afterReply(() => seen.push(1));
    afterReply(() => {
      throw new Error("metrics exploded");
    });
    afterReply(() => seen.push(3));
    await afterReplyIdle();
    expect(seen).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
    expect((errors[0] as Error).message).toBe("metrics exploded");
  });

  it("runs work queued by queued work on a later turn, and is idle at once when nothing is queued", async () => {
    const seen: string[] = [];
    afterReply(() => {
      seen.push("outer");
      afterReply(() => seen.push("inner"));
    });
    await afterReplyIdle();
    expect(seen).toEqual(["outer"]);
    await afterReplyIdle();
    expect(seen).toEqual(["outer", "inner"]);
    await expect(afterReplyIdle()).resolves.toBeUndefined();
  });
});

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Bulkhead, BulkheadFullError, BulkheadTimeoutError } from "./bulkhead.js";

const never = new AbortController().signal;
const far = () => Date.now() + 60_000;

/** Lets pending promise callbacks run. */
const flush = () => new Promise<void>((resolve) => queueMicrotask(resolve)).then(() => Promise.resolve());

describe("Bulkhead", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs at most max_concurrency at once and queues the rest", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 2, max_queue: 10 });
    const a = await bulkhead.acquire(never, far());
    const b = await bulkhead.acquire(never, far());
    let granted = false;
    const c = bulkhead.acquire(never, far()).then((release) => {
      granted = true;
      return release;
    });
    await flush();
    expect(granted).toBe(false);
    expect(bulkhead.inUse).toBe(2);
    expect(bulkhead.queued).toBe(1);

    a();
    const releaseC = await c;
    expect(granted).toBe(true);
    expect(bulkhead.inUse).toBe(2);
    expect(bulkhead.queued).toBe(0);
    b();
    releaseC();
    expect(bulkhead.inUse).toBe(0);
  });

  it("hands slots to waiters in arrival order", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 10 });
    const first = await bulkhead.acquire(never, far());
    const order: number[] = [];
    const waiting = [1, 2, 3, 4].map((n) =>
      bulkhead.acquire(never, far()).then((release) => {
        order.push(n);
        release();
      }),
    );
    first();
    await Promise.all(waiting);
    expect(order).toEqual([1, 2, 3, 4]);
    expect(bulkhead.inUse).toBe(0);
  });

  it("a newcomer does not jump the queue when a slot frees up", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 10 });
    const first = await bulkhead.acquire(never, far());
    const order: string[] = [];
    const queued = bulkhead.acquire(never, far()).then((release) => {
      order.push("queued");
      return release;
    });
    first();
    const late = bulkhead.acquire(never, far()).then((release) => {
      order.push("late");
      release();
    });
    (await queued)();
    await late;
    expect(order).toEqual(["queued", "late"]);
  });

  it("refuses at once when the queue is full", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 2 });
    await bulkhead.acquire(never, far());
    void bulkhead.acquire(never, far());
    void bulkhead.acquire(never, far());
    const error: unknown = await bulkhead.acquire(never, far()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BulkheadFullError);
    expect((error as BulkheadFullError).name).toBe("BulkheadFullError");
    expect((error as BulkheadFullError).retryAfterMs).toBe(1_000);
    expect(bulkhead.queued).toBe(2);
  });

  it("max_queue 0 means no waiting at all", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 0 });
    await bulkhead.acquire(never, far());
    await expect(bulkhead.acquire(never, far())).rejects.toBeInstanceOf(BulkheadFullError);
  });

  it("retryAfterMs follows recent hold times", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 2, max_queue: 0 });
    const a = await bulkhead.acquire(never, far());
    vi.advanceTimersByTime(200);
    a();
    await bulkhead.acquire(never, far());
    await bulkhead.acquire(never, far());
    const error = (await bulkhead.acquire(never, far()).catch((e: unknown) => e)) as BulkheadFullError;
    // One 200 ms hold seen; the next slot is one of two turning over: about 100 ms.
    expect(error.retryAfterMs).toBe(100);
  });

  it("an aborted waiter leaves the queue and frees its place", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 1 });
    const held = await bulkhead.acquire(never, far());
    const controller = new AbortController();
    const waiting = bulkhead.acquire(controller.signal, far());
    expect(bulkhead.queued).toBe(1);
    vi.advanceTimersByTime(30);
    controller.abort(new Error("client went away"));
    const error = (await waiting.catch((e: unknown) => e)) as BulkheadTimeoutError;
    expect(error).toBeInstanceOf(BulkheadTimeoutError);
    expect(error.reason).toBe("aborted");
    expect(error.waitedMs).toBe(30);
    expect(error.cause).toEqual(new Error("client went away"));
    expect(bulkhead.queued).toBe(0);

    // Its place is free again, and the released slot goes to the new waiter, not the dead one.
    const next = bulkhead.acquire(never, far());
    expect(bulkhead.queued).toBe(1);
    held();
    (await next)();
    expect(bulkhead.inUse).toBe(0);
  });

  it("a waiter whose deadline passes leaves the queue, naming how long it waited", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 1 });
    const held = await bulkhead.acquire(never, far());
    const waiting = bulkhead.acquire(never, Date.now() + 250);
    const settled = waiting.catch((e: unknown) => e);
    vi.advanceTimersByTime(249);
    expect(bulkhead.queued).toBe(1);
    vi.advanceTimersByTime(1);
    const error = (await settled) as BulkheadTimeoutError;
    expect(error).toBeInstanceOf(BulkheadTimeoutError);
    expect(error.reason).toBe("deadline");
    expect(error.waitedMs).toBe(250);
    expect(error.message).toContain("250 ms");
    expect(bulkhead.queued).toBe(0);
    held();
    expect(bulkhead.inUse).toBe(0);
  });

  it("refuses without queueing when already aborted or past the deadline", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 1 });
    await expect(bulkhead.acquire(AbortSignal.abort(), far())).rejects.toMatchObject({ name: "BulkheadTimeoutError", reason: "aborted" });
    await expect(bulkhead.acquire(never, Date.now())).rejects.toMatchObject({ name: "BulkheadTimeoutError", reason: "deadline" });
    expect(bulkhead.inUse).toBe(0);
    expect(bulkhead.queued).toBe(0);
  });

  it("releasing twice frees only one slot", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 2, max_queue: 1 });
    const a = await bulkhead.acquire(never, far());
    await bulkhead.acquire(never, far());
    a();
    a();
    expect(bulkhead.inUse).toBe(1);
    await bulkhead.acquire(never, far());
    let third = false;
    void bulkhead.acquire(never, far()).then(() => (third = true));
    a();
    await flush();
    expect(third).toBe(false);
    expect(bulkhead.inUse).toBe(2);
    expect(bulkhead.queued).toBe(1);
  });

  it("deadlines beyond setTimeout's range still work", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 1 });
    const held = await bulkhead.acquire(never, far());
    const waiting = bulkhead.acquire(never, Date.now() + 3_000_000_000);
    vi.advanceTimersByTime(2_500_000_000);
    expect(bulkhead.queued).toBe(1);
    held();
    (await waiting)();
    expect(bulkhead.inUse).toBe(0);
  });
});

describe("Bulkhead with real timers", () => {
  it("a short real deadline expires the waiter", async () => {
    const bulkhead = new Bulkhead({ max_concurrency: 1, max_queue: 1 });
    await bulkhead.acquire(never, Date.now() + 1_000);
    const started = Date.now();
    await expect(bulkhead.acquire(never, started + 20)).rejects.toBeInstanceOf(BulkheadTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(19);
    expect(bulkhead.queued).toBe(0);
  });
});

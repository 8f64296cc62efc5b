import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.test-support.js";
import { InterTokenStall, type InterTokenSettings } from "./inter-token-stall.js";

const settings: InterTokenSettings = { enabled: true, multiple: 10, minMs: 100, maxMs: 2_000 };

function setup(overrides: Partial<InterTokenSettings> = {}) {
  const clock = new FakeClock();
  const pace = new InterTokenStall({ ...settings, ...overrides }, clock);
  /** A stream from its first token; `stalled` holds the reason and the time once told. */
  const stream = () => {
    const s = {
      stalled: undefined as string | undefined,
      at: undefined as number | undefined,
      watch: undefined! as ReturnType<InterTokenStall["watch"]>,
    };
    s.watch = pace.watch((reason) => {
      s.stalled = reason;
      s.at = clock.t;
    });
    return s;
  };
  /** History: one whole stream of `n` tokens `gapMs` apart. */
  const warm = (gapMs: number, n = 60) => {
    const s = stream();
    for (let i = 0; i < n; i++) {
      clock.advance(gapMs);
      s.watch.token();
    }
    s.watch.stop();
  };
  return { clock, pace, stream, warm };
}

describe("InterTokenStall", () => {
  it("uses max_ms while the deployment has no history", () => {
    const { clock, pace, stream } = setup();
    expect(pace.thresholdMs).toBe(2_000);
    const s = stream();
    clock.advance(1_999);
    expect(s.stalled).toBeUndefined();
    clock.advance(1);
    expect(s.stalled).toBe("no token for 2000 ms after 1 token(s) (inter-token stall threshold 2000 ms)");
    expect(pace.stalls).toBe(1);
  });

  it("cuts at multiple × the recent p99 gap, counted from the last token", () => {
    const { clock, pace, stream, warm } = setup();
    warm(20);
    expect(pace.thresholdMs).toBe(200);
    const s = stream();
    const start = clock.t;
    for (let i = 0; i < 5; i++) {
      clock.advance(20);
      s.watch.token();
    }
    const lastToken = clock.t;
    clock.advance(1_000);
    expect(s.at).toBe(lastToken + 200);
    expect(s.at! - start).toBeGreaterThan(200);
    expect(s.stalled).toContain("after 6 token(s)");
  });

  it("keeps to the floor and the ceiling", () => {
    const fast = setup();
    fast.warm(1);
    expect(fast.pace.thresholdMs).toBe(100);
    const slow = setup();
    slow.warm(500);
    expect(slow.pace.thresholdMs).toBe(2_000);
  });

  it("never cuts a stream whose tokens keep coming within the threshold, and leaves no timer after stop", () => {
    const { clock, pace, stream, warm } = setup();
    warm(20);
    const s = stream();
    for (let i = 0; i < 100; i++) {
      clock.advance(150);
      s.watch.token();
    }
    expect(s.stalled).toBeUndefined();
    s.watch.stop();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    expect(s.stalled).toBeUndefined();
    expect(pace.stalls).toBe(0);
  });

  it("brings a first stream's deadline forward once its own history lowers the threshold", () => {
    const { clock, stream } = setup();
    const s = stream();
    for (let i = 0; i < 40; i++) {
      clock.advance(10);
      s.watch.token();
    }
    const lastToken = clock.t;
    clock.advance(2_000);
    // 10 × p99 of 10 ms gaps: cut at about 100 ms of silence, long before max_ms.
    expect(s.at! - lastToken).toBeLessThanOrEqual(110);
  });

  it("disabled: no timer, never a stall", () => {
    const { clock, pace, stream } = setup({ enabled: false });
    const s = stream();
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(s.stalled).toBeUndefined();
    expect(pace.stalls).toBe(0);
  });
});

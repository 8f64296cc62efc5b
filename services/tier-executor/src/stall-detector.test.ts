import { describe, expect, it } from "vitest";
import { FakeClock } from "./fake-clock.test-support.js";
import { StallDetector, type Stall, type StallSettings } from "./stall-detector.js";

const settings: StallSettings = { enabled: true, ttftMultiple: 3, minMs: 250, maxMs: 2_000, quorum: 0, quorumTtftMultiple: 1 };

function setup(overrides: Partial<StallSettings> = {}) {
  const clock = new FakeClock();
  const stalls: Stall[] = [];
  const detector = new StallDetector({ ...settings, ...overrides }, clock, (s) => stalls.push(s));
  /** Starts a waiting attempt with a TTFT limit; `aborted` holds the reason once it is told of a stall. */
  const attempt = (limitMs = 2_000) => {
    const a = {
      aborted: undefined as string | undefined,
      abortedAt: undefined as number | undefined,
      watch: undefined! as ReturnType<StallDetector["watch"]>,
    };
    a.watch = detector.watch(limitMs, (reason) => {
      a.aborted = reason;
      a.abortedAt = clock.t;
    });
    return a;
  };
  /** History: `n` quick attempts with this TTFT. */
  const warm = (ttftMs: number, n = 50) => {
    for (let i = 0; i < n; i++) {
      const a = attempt();
      clock.advance(ttftMs);
      a.watch.firstToken(ttftMs);
    }
  };
  return { clock, detector, stalls, attempt, warm };
}

describe("StallDetector", () => {
  it("without history the threshold is max_ms; with history, ttft_multiple × p99 clamped to [min_ms, max_ms]", () => {
    const { detector, warm } = setup();
    expect(detector.thresholdMs).toBe(2_000);
    warm(100);
    expect(detector.thresholdMs).toBe(300);
    const fast = setup();
    fast.warm(20);
    expect(fast.detector.thresholdMs).toBe(250); // min_ms
    const slow = setup();
    slow.warm(900);
    expect(slow.detector.thresholdMs).toBe(2_000); // max_ms
  });

  it("a deployment that stops answering is a stall at the threshold, not at the TTFT limit; every waiting attempt is told", () => {
    const { clock, detector, stalls, attempt, warm } = setup();
    warm(100); // threshold 300 ms
    const hangStart = clock.t;
    const first = attempt();
    clock.advance(100);
    const second = attempt();
    clock.advance(199);
    expect(stalls).toEqual([]);
    expect(detector.stalled).toBe(false);
    clock.advance(1);

    expect(stalls).toEqual([{ thresholdMs: 300, waitedMs: 300, aborted: 2 }]);
    expect(first.abortedAt).toBe(hangStart + 300);
    expect(second.abortedAt).toBe(hangStart + 300); // waited only 200 ms, moved on with the rest
    expect(first.aborted).toMatch(/no first token for 300 ms \(stall threshold 300 ms\)/);
    expect(detector.stalled).toBe(true);
    expect(detector.stalls).toBe(1);
    expect(detector.waiting).toBe(0);
    expect(clock.pending).toBe(0); // idle again: no timer
  });

  it("a slow attempt is no stall while the deployment keeps producing first tokens on other attempts", () => {
    const { clock, stalls, attempt, warm } = setup();
    warm(100);
    const slow = attempt();
    for (let i = 0; i < 20; i++) {
      const other = attempt();
      clock.advance(50);
      other.watch.firstToken(50);
    }
    // 1 s waited, over 3 × the threshold, but the deployment answered others meanwhile.
    expect(stalls).toEqual([]);
    expect(slow.aborted).toBeUndefined();
    slow.watch.firstToken(1_000);
  });

  it("judges each attempt by the silence since it started", () => {
    const { clock, stalls, attempt, warm } = setup();
    warm(100);
    const old = attempt();
    clock.advance(200);
    const other = attempt();
    clock.advance(50);
    other.watch.firstToken(50); // the deployment works: `old` waited through a first token
    const late = attempt(); // started after the last first token
    clock.advance(299);
    expect(stalls).toEqual([]);
    clock.advance(1);
    expect(stalls).toHaveLength(1);
    expect(stalls[0]!.waitedMs).toBe(300);
    expect(late.aborted).toBeDefined();
    expect(old.aborted).toBeDefined(); // still waiting when the stall is declared: moved on too
  });

  it("quorum: several attempts past the p99 with nothing answered are a stall long before the single threshold", () => {
    const { clock, detector, stalls, attempt, warm } = setup({ quorum: 3, minMs: 50 });
    warm(100); // p99 100 ms: single threshold 300 ms, quorum threshold 100 ms
    expect(detector.quorumThresholdMs).toBe(100);
    const hangStart = clock.t;
    const a = attempt();
    clock.advance(20);
    attempt();
    clock.advance(20);
    const c = attempt();
    clock.advance(99); // the third has waited 99 ms
    expect(stalls).toEqual([]);
    clock.advance(1);
    expect(stalls).toEqual([{ thresholdMs: 100, waitedMs: 140, aborted: 3 }]);
    expect(a.abortedAt).toBe(hangStart + 140);
    expect(c.aborted).toMatch(/3 attempts without a first token, the oldest for 140 ms \(quorum stall threshold 100 ms\)/);
  });

  it("quorum: fewer waiting attempts than the quorum fall back to the single threshold", () => {
    const { clock, stalls, attempt, warm } = setup({ quorum: 3, minMs: 50 });
    warm(100);
    attempt();
    attempt();
    clock.advance(299);
    expect(stalls).toEqual([]);
    clock.advance(1);
    expect(stalls).toEqual([{ thresholdMs: 300, waitedMs: 300, aborted: 2 }]);
  });

  it("quorum: a first token in between resets the count (slow attempts on a working deployment)", () => {
    const { clock, stalls, attempt, warm } = setup({ quorum: 3, minMs: 50 });
    warm(100);
    attempt();
    attempt();
    clock.advance(10);
    const quick = attempt();
    clock.advance(10);
    quick.watch.firstToken(10); // the deployment answers: the two older ones waited through it
    attempt();
    attempt();
    clock.advance(150); // two silent since the first token: no quorum of three
    expect(stalls).toEqual([]);
    attempt();
    clock.advance(99);
    expect(stalls).toEqual([]);
    clock.advance(1); // the third silent one reaches 100 ms
    expect(stalls).toHaveLength(1);
    expect(stalls[0]!.thresholdMs).toBe(100);
  });

  it("quorum: attempts cancelled before their first token (lost hedge races) still count as silence", () => {
    const { clock, detector, stalls, attempt, warm } = setup({ quorum: 3, minMs: 50 });
    warm(100);
    for (let i = 0; i < 3; i++) {
      const a = attempt();
      clock.advance(30);
      a.watch.abandon(); // a hedge elsewhere answered first
    }
    expect(detector.waiting).toBe(0);
    const waiting = attempt();
    clock.advance(9); // the third ghost has waited 39 ms
    expect(stalls).toEqual([]);
    clock.advance(100 - 39);
    expect(stalls).toEqual([{ thresholdMs: 100, waitedMs: 160, aborted: 1 }]);
    expect(waiting.aborted).toMatch(/quorum stall/);
    expect(detector.stalled).toBe(true);
  });

  it("a ghost alone proves nothing, and a first token clears ghosts", () => {
    const { clock, stalls, attempt, warm, detector } = setup({ quorum: 3, minMs: 50 });
    warm(100);
    const a = attempt();
    clock.advance(30);
    a.watch.abandon();
    clock.advance(1_000); // far past the single threshold (300 ms): still no stall
    expect(stalls).toEqual([]);
    for (let i = 0; i < 2; i++) {
      const g = attempt();
      clock.advance(10);
      g.watch.abandon();
    }
    const ok = attempt();
    clock.advance(5);
    ok.watch.firstToken(5); // the deployment answers: the ghosts are forgotten
    attempt();
    clock.advance(150);
    expect(stalls).toEqual([]);
    expect(detector.waiting).toBe(1);
  });

  it("quorum: without history only the single threshold applies", () => {
    const { clock, detector, stalls, attempt } = setup({ quorum: 3 });
    expect(detector.quorumThresholdMs).toBeUndefined();
    for (let i = 0; i < 5; i++) attempt();
    clock.advance(1_999);
    expect(stalls).toEqual([]);
  });

  it("sets no timer while idle, one check timer while attempts wait", () => {
    const { clock, detector, attempt } = setup();
    expect(detector.checking).toBe(false);
    const a = attempt(5_000);
    const b = attempt(5_000);
    expect(clock.pending).toBe(1);
    a.watch.end(false);
    expect(detector.checking).toBe(true); // b still waits
    b.watch.end(false);
    expect(detector.checking).toBe(false);
    expect(clock.pending).toBe(0);
    const c = attempt(5_000);
    clock.advance(10);
    c.watch.firstToken(10);
    expect(clock.pending).toBe(0);
  });

  it("an attempt whose own TTFT limit is not above the threshold proves the stall by timing out; the others are told", () => {
    const { clock, detector, stalls, attempt } = setup({ maxMs: 2_000 });
    // No history: the threshold is max_ms, equal to the attempts' TTFT limit.
    const first = attempt(2_000);
    expect(detector.checking).toBe(false); // its own timeout comes first
    clock.advance(500);
    const second = attempt(2_000);
    clock.advance(1_500);
    first.watch.end(true); // its TTFT timer fired

    expect(stalls).toEqual([{ thresholdMs: 2_000, waitedMs: 2_000, aborted: 1 }]);
    expect(first.aborted).toBeUndefined(); // ends as its own timeout
    expect(second.aborted).toBeDefined();
    expect(detector.stalled).toBe(true);
  });

  it("a timeout shorter than the threshold (a near deadline) proves nothing", () => {
    const { clock, stalls, attempt, warm } = setup();
    warm(100);
    const a = attempt(150);
    clock.advance(150);
    a.watch.end(true);
    expect(stalls).toEqual([]);
  });

  it("a timeout after the deployment answered another attempt proves nothing", () => {
    const { clock, stalls, attempt } = setup({ maxMs: 1_000 });
    const a = attempt(1_000);
    clock.advance(500);
    const b = attempt();
    clock.advance(10);
    b.watch.firstToken(10);
    clock.advance(490);
    a.watch.end(true);
    expect(stalls).toEqual([]);
  });

  it("the next first token or reset() ends the stalled state", () => {
    const { clock, detector, attempt, warm } = setup();
    warm(100);
    attempt();
    clock.advance(300);
    expect(detector.stalled).toBe(true);
    detector.firstToken(100); // a canary probe got through
    expect(detector.stalled).toBe(false);

    attempt();
    clock.advance(300);
    expect(detector.stalled).toBe(true);
    detector.reset();
    expect(detector.stalled).toBe(false);
    expect(detector.stalls).toBe(2);
  });

  it("forgets old history, so a deployment that became slower is judged by max_ms again", () => {
    const { clock, detector, warm } = setup();
    warm(100);
    expect(detector.thresholdMs).toBe(300);
    clock.advance(61_000);
    expect(detector.thresholdMs).toBe(2_000);
  });

  it("disabled: never a stall, never a timer", () => {
    const { clock, detector, stalls, attempt } = setup({ enabled: false });
    const a = attempt();
    expect(clock.pending).toBe(0);
    clock.advance(10_000);
    a.watch.end(true);
    expect(stalls).toEqual([]);
    expect(detector.stalled).toBe(false);
  });
});

describe("StallDetector on a busy process", () => {
  it("gives its verdict only after pending I/O: a first token read late, in the same turn as the check, is no stall", () => {
    const clock = new FakeClock();
    const deferred: (() => void)[] = [];
    clock.afterPendingIo = (fn) => void deferred.push(fn);
    const stalls: Stall[] = [];
    const detector = new StallDetector(settings, clock, (s) => stalls.push(s));
    let aborted = false;
    const watch = detector.watch(10_000, () => (aborted = true));
    // The process was busy past the threshold (max_ms without history): the check timer fires, the token is still unread.
    clock.advance(2_100);
    expect(deferred).toHaveLength(1);
    // The poll phase then reads the token...
    watch.firstToken(2_090);
    // ...before the verdict runs.
    for (const fn of deferred.splice(0)) fn();
    expect(stalls).toEqual([]);
    expect(aborted).toBe(false);
    expect(detector.stalled).toBe(false);
  });

  it("still declares a real stall once pending I/O brought nothing", () => {
    const clock = new FakeClock();
    const deferred: (() => void)[] = [];
    clock.afterPendingIo = (fn) => void deferred.push(fn);
    const stalls: Stall[] = [];
    const detector = new StallDetector(settings, clock, (s) => stalls.push(s));
    let aborted = false;
    detector.watch(10_000, () => (aborted = true));
    detector.watch(10_000, () => undefined);
    clock.advance(2_100);
    for (const fn of deferred.splice(0)) fn();
    expect(stalls).toHaveLength(1);
    expect(aborted).toBe(true);
  });
});

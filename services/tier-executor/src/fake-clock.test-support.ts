// A hand-driven clock for stall tests (test support, not built).
import type { Clock } from "./stall-detector.js";

/** A hand-driven clock whose timers fire only when `advance` passes them. */
export class FakeClock implements Clock {
  t = 1_000;
  private timers = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;
  /** When set, the stall detector defers its verdicts through it (as after pending I/O). */
  afterPendingIo?: (fn: () => void) => void;

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in order at their own time. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].at);
      next[1].fn();
    }
    this.t = end;
  }
}

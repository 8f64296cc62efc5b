import { describe, expect, it } from "vitest";
import { ProbeSchedule } from "./probe-schedule.js";

/** Ticks of the schedule at which `key` is due over `ms`, with `recovering` per tick. */
function dueTicks(s: ProbeSchedule, ms: number, recovering: (t: number) => boolean, jitter = 0): number[] {
  const out: number[] = [];
  for (let t = s.tickMs; t <= ms; t += s.tickMs) {
    const at = t + (out.length % 2 === 0 ? jitter : -jitter);
    if (s.take("gold/m", at, recovering(t))) out.push(t);
  }
  return out;
}

describe("ProbeSchedule", () => {
  it("ticks at the fast interval and probes a calm tier every interval_ms", () => {
    const s = new ProbeSchedule(1_000, 200);
    expect(s.tickMs).toBe(200);
    expect(dueTicks(s, 3_000, () => false)).toEqual([200, 1_200, 2_200]);
  });

  it("probes a down or recovering tier every down_interval_ms", () => {
    const s = new ProbeSchedule(1_000, 200);
    expect(dueTicks(s, 1_000, () => true)).toEqual([200, 400, 600, 800, 1_000]);
  });

  it("switches at once when the tier goes down, and back when it is healthy", () => {
    const s = new ProbeSchedule(1_000, 200);
    const due = dueTicks(s, 4_000, (t) => t >= 1_500 && t < 2_500);
    expect(due).toEqual([200, 1_200, 1_600, 1_800, 2_000, 2_200, 2_400, 3_400]);
  });

  it("timer drift of a few ms does not skip a tick", () => {
    const s = new ProbeSchedule(1_000, 200);
    expect(dueTicks(s, 1_000, () => true, 7)).toEqual([200, 400, 600, 800, 1_000]);
  });

  it("a down interval above interval_ms never slows probing down", () => {
    const s = new ProbeSchedule(100, 200);
    expect(s.tickMs).toBe(100);
    expect(dueTicks(s, 300, () => true)).toEqual([100, 200, 300]);
  });
});

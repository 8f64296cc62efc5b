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

  it("skips a deployment real traffic showed within the interval, and probes it once traffic has been silent that long", () => {
    const s = new ProbeSchedule(1_000, 200);
    let traffic = 0;
    const decisions: string[] = [];
    for (let t = 200; t <= 4_000; t += 200) {
      if (t <= 2_000) traffic = t - 50; // steady traffic until 2 s, then none
      const d = s.decide("gold/m", t, false, traffic);
      if (d !== "wait") decisions.push(`${t}:${d}`);
    }
    // Skips are reported once per interval; the first probe comes 1 s after the last traffic.
    expect(decisions).toEqual(["200:covered", "1200:covered", "2200:covered", "3000:probe", "4000:probe"]);
  });

  it("still probes a down tier's deployments every down_interval_ms when traffic does not reach them", () => {
    const s = new ProbeSchedule(1_000, 200);
    // Traffic last reached the deployment just before the tier went down.
    expect(dueTicks(s, 1_000, () => true).length).toBe(5);
    const t = new ProbeSchedule(1_000, 200);
    const probes = [];
    for (let at = 200; at <= 1_000; at += 200) if (t.take("gold/m", at, true, 150)) probes.push(at);
    expect(probes).toEqual([400, 600, 800, 1_000]);
  });

  it("never probes inside a Retry-After, and probes at the first tick after it", () => {
    const s = new ProbeSchedule(1_000, 200);
    expect(s.decide("gold/m", 200, true)).toBe("probe");
    s.coolDown("gold/m", 2_250);
    const decisions: string[] = [];
    for (let t = 400; t <= 2_600; t += 200) decisions.push(s.decide("gold/m", t, true));
    expect(decisions).toEqual([...Array<string>(10).fill("cooling"), "probe", "probe"]);
    // A shorter wait does not cut it short.
    s.coolDown("gold/m", 5_000);
    s.coolDown("gold/m", 3_000);
    expect(s.decide("gold/m", 4_000, true)).toBe("cooling");
  });
});

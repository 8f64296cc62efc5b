import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { hasRoomForJob } from "./job-capacity.js";

const config = { max_concurrency: 4, interactive_below: 0.5 };

describe("hasRoomForJob", () => {
  it("takes jobs while interactive work is under the threshold and jobs under max_concurrency", () => {
    expect(hasRoomForJob({ inFlight: 0, queued: 0, jobs: 0 }, config, 10)).toBe(true);
    expect(hasRoomForJob({ inFlight: 4, queued: 0, jobs: 4 }, config, 10)).toBe(false);
    expect(hasRoomForJob({ inFlight: 7, queued: 0, jobs: 3 }, config, 10)).toBe(true);
    expect(hasRoomForJob({ inFlight: 8, queued: 0, jobs: 3 }, config, 10)).toBe(false);
    expect(hasRoomForJob({ inFlight: 4, queued: 2, jobs: 1 }, config, 10)).toBe(false);
  });

  it("never lets jobs exceed max_concurrency nor run while interactive work is at the threshold", () => {
    fc.assert(
      fc.property(
        fc.nat(300),
        fc.nat(300),
        fc.nat(20),
        fc.integer({ min: 1, max: 16 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 256 }),
        (inFlight, queued, jobs, max, below, capacity) => {
          const room = hasRoomForJob({ inFlight, queued, jobs }, { max_concurrency: max, interactive_below: below }, capacity);
          if (jobs >= max) expect(room).toBe(false);
          if (inFlight + queued - jobs >= below * capacity) expect(room).toBe(false);
        },
      ),
    );
  });

  it("takes no job while the event loop is busier than event_loop_utilization_below, or lags by event_loop_delay_below_ms", () => {
    const gated = { ...config, event_loop_utilization_below: 0.8, event_loop_delay_below_ms: 50 };
    const idle = { inFlight: 0, queued: 0, jobs: 0 };
    expect(hasRoomForJob(idle, gated, 10, { utilization: 0.5, delayP99Ms: 20 })).toBe(true);
    expect(hasRoomForJob(idle, gated, 10, { utilization: 0.85, delayP99Ms: 20 })).toBe(false);
    expect(hasRoomForJob(idle, gated, 10, { utilization: 0.2, delayP99Ms: 120 })).toBe(false);
    // 1 and 0 are no limit; an unknown loop is no limit either.
    const open = { ...config, event_loop_utilization_below: 1, event_loop_delay_below_ms: 0 };
    expect(hasRoomForJob(idle, open, 10, { utilization: 1, delayP99Ms: 5_000 })).toBe(true);
    expect(hasRoomForJob(idle, gated, 10)).toBe(true);
  });

  it("never takes a job while the loop is at or over either limit", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.nat(1_000),
        fc.nat(1_000),
        (below, utilization, lag, delayP99Ms) => {
          const room = hasRoomForJob(
            { inFlight: 0, queued: 0, jobs: 0 },
            { ...config, event_loop_utilization_below: below, event_loop_delay_below_ms: lag },
            10,
            { utilization, delayP99Ms },
          );
          if (below < 1 && utilization >= below) expect(room).toBe(false);
          if (lag > 0 && delayP99Ms >= lag) expect(room).toBe(false);
          if ((below === 1 || utilization < below) && (lag === 0 || delayP99Ms < lag)) expect(room).toBe(true);
        },
      ),
    );
  });
});

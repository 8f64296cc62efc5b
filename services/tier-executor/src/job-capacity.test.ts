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
});

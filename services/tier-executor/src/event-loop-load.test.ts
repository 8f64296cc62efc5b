import { describe, expect, it } from "vitest";
import { EventLoopLoad } from "./event-loop-load.js";

const busyFor = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // Keeps the loop busy, as many streams parsed at once would.
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("EventLoopLoad", () => {
  it("sees a loop kept busy as busy and late, and a quiet one as neither", async () => {
    const loop = new EventLoopLoad(60_000);
    expect(loop.load).toEqual({ utilization: 0, delayP99Ms: 0 });
    loop.start();
    try {
      await sleep(50);
      for (let i = 0; i < 4; i++) {
        busyFor(80);
        await sleep(5);
      }
      loop.sample();
      expect(loop.load.utilization).toBeGreaterThan(0.6);
      expect(loop.load.delayP99Ms).toBeGreaterThan(50);
      await sleep(300);
      loop.sample();
      expect(loop.load.utilization).toBeLessThan(0.5);
    } finally {
      loop.stop();
    }
  });
});

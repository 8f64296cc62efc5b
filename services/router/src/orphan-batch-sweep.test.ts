import { describe, expect, it } from "vitest";
import { OrphanBatchSweep } from "./orphan-batch-sweep.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("OrphanBatchSweep", () => {
  it("looks again after a failed look, waits at least 75% of its interval between looks (jittered), and stops looking once stopped", async () => {
    const at: number[] = [];
    const warned: string[] = [];
    const waits: number[] = [];
    const randoms = [0, 0.999, 0.5];
    const sweep = new OrphanBatchSweep({
      intervalMs: 40,
      random: () => randoms[waits.push(0) % randoms.length]!,
      logger: { warn: (_o, msg) => warned.push(msg) },
      async resumeOrphans() {
        at.push(performance.now());
        if (at.length === 1) throw new Error("NATS away");
        return [];
      },
    });
    sweep.start();
    sweep.start();
    await sleep(400);
    await sweep.stop();
    const looks = at.length;
    expect(looks).toBeGreaterThanOrEqual(4);
    expect(warned).toEqual(["could not look for batches left validating; trying again"]);
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(29);
    await sleep(150);
    expect(at.length).toBe(looks);
  });
});

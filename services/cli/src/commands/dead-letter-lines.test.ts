import { create } from "@bufbuild/protobuf";
import { JobSchema, JobState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { deadLetterLines, replayLines } from "./dead-letter-lines.js";

describe("dead-letter lines", () => {
  it("shows each job's id, tenant, tier, attempts, time and last error", () => {
    const job = create(JobSchema, {
      id: "job_00mieq9zc0a1b2c3d4e5f60718",
      tenant: "acme",
      tier: "bronze",
      state: JobState.FAILED,
      attempts: 3,
      error: { code: "unavailable", message: "upstream down" },
    });
    const [header, row] = deadLetterLines([{ seq: 7, at: new Date("2026-11-26T10:00:00Z"), job }]);
    expect(header).toMatch(/^ID\s+TENANT\s+TIER\s+ATTEMPTS\s+DEAD SINCE\s+LAST ERROR$/);
    expect(row).toMatch(/^job_00mieq9zc0a1b2c3d4e5f60718\s+acme\s+bronze\s+3\s+2026-11-26T10:00:00.000Z\s+unavailable: upstream down$/);
    expect(deadLetterLines([])).toEqual(["no dead-lettered jobs"]);
  });

  it("says what became of each job asked to be replayed", () => {
    expect(
      replayLines([
        { id: "job_a", tenant: "acme", tier: "bronze", outcome: "replayed", replays: 2 },
        { id: "job_b", tenant: "acme", tier: "bronze", outcome: "settled", replays: 1 },
      ]),
    ).toEqual([
      "job_a acme bronze: queued again, replay 2",
      "job_b acme bronze: no longer failed (replayed before); its stale dead letter removed",
    ]);
  });
});

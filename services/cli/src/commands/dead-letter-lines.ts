import { stateName, type DeadLetter, type ReplayOutcome } from "@tiermesh/jobs";

const cell = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text.padEnd(width));

/** Dead letters as a table: id, tenant, tier, attempts, when, last error (code: message). */
export function deadLetterLines(letters: readonly DeadLetter[]): string[] {
  if (letters.length === 0) return ["no dead-lettered jobs"];
  const header = `${cell("ID", 31)} ${cell("TENANT", 12)} ${cell("TIER", 8)} ${cell("ATTEMPTS", 8)} ${cell("DEAD SINCE", 24)} LAST ERROR`;
  return [
    header,
    ...letters.map(({ job, at }) => {
      const error = job.error ? `${job.error.code}: ${job.error.message}` : stateName(job.state);
      const attempts = job.replays > 0 ? `${job.attempts} (replayed ${job.replays}x)` : String(job.attempts);
      return `${cell(job.id, 31)} ${cell(job.tenant, 12)} ${cell(job.tier, 8)} ${cell(attempts, 8)} ${cell(at.toISOString(), 24)} ${error}`;
    }),
  ];
}

const SAID: Record<ReplayOutcome["outcome"], string> = {
  replayed: "queued again",
  requeued: "queued again (a replay that had stopped before queuing it)",
  settled: "no longer failed (replayed before); its stale dead letter removed",
};

/** One line per job asked to be replayed. */
export const replayLines = (outcomes: readonly ReplayOutcome[]) =>
  outcomes.map((o) => `${o.id} ${o.tenant} ${o.tier}: ${SAID[o.outcome]}${o.outcome === "settled" ? "" : `, replay ${o.replays}`}`);

import { parseArgs } from "node:util";
import { asyncTiers, isJobId, openExistingJobBackend, replayDeadLetters, type DeadLetter } from "@tiermesh/jobs";
import { type Config, loadConfig } from "@tiermesh/config";
import { connectMeshNats } from "../mesh-nats.js";
import { UsageError } from "../usage-error.js";
import { deadLetterLines, replayLines } from "./dead-letter-lines.js";

export const jobsUsage =
  "tiermesh jobs dead-letters [--tier <t>] [--tenant <x>] [--config <file>] | tiermesh jobs replay <job id>...|--all [--tier <t>] [--tenant <x>] [--config <file>]";

function parseOptions(sub: string, args: string[]) {
  const s = { type: "string" } as const;
  try {
    return parseArgs({ args, allowPositionals: sub === "replay", options: { config: s, tier: s, tenant: s, all: { type: "boolean" } } });
  } catch (err) {
    throw new UsageError(`jobs ${sub}: ${(err as Error).message}; usage: ${jobsUsage}`);
  }
}

function checkedTier(config: Config, tier: string | undefined): string | undefined {
  if (tier === undefined) return undefined;
  const known = asyncTiers(config);
  if (!known.includes(tier))
    throw new UsageError(`--tier: "${tier}" is not a tier that takes jobs (tiers with async.enabled: ${known.join(", ") || "none"})`);
  return tier;
}

/**
 * `dead-letters` lists the jobs kept on the dead-letter subjects; `replay` queues them again
 * (the named ones, or `--all` of those the filters select) and removes their dead letters.
 * Talks to NATS directly, as the executors and routers do: the running `tiermesh up`'s NATS, else the config's.
 */
export async function jobs(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  if (sub !== "dead-letters" && sub !== "replay") throw new UsageError(`jobs: unknown subcommand "${sub ?? ""}"; usage: ${jobsUsage}`);
  const { values, positionals } = parseOptions(sub, rest);
  if (sub === "dead-letters" && values.all) throw new UsageError("--all: only for jobs replay");
  if (sub === "replay") {
    if (values.all && positionals.length > 0) throw new UsageError("--all: give job ids or --all, not both");
    if (!values.all && positionals.length === 0)
      throw new UsageError(`jobs replay: give the ids of the jobs to replay, or --all; usage: ${jobsUsage}`);
    const bad = positionals.find((id) => !isJobId(id));
    if (bad !== undefined) throw new UsageError(`jobs replay: "${bad}" is not a job id (job_ followed by 26 characters)`);
  }
  const config = loadConfig(values.config ?? "deploy/tiermesh.example.yaml");
  const tier = checkedTier(config, values.tier);
  const nc = await connectMeshNats(config);
  try {
    const backend = await openExistingJobBackend(nc, config);
    const letters = (await backend.queue.deadLetters(tier)).filter((l) => values.tenant === undefined || l.job.tenant === values.tenant);
    if (sub === "dead-letters") {
      process.stdout.write(`${deadLetterLines(letters).join("\n")}\n`);
      return;
    }
    const { chosen, missing } = values.all ? { chosen: letters, missing: [] } : pick(letters, positionals);
    const lines = replayLines(await replayDeadLetters(backend, chosen));
    const filtered = tier !== undefined || values.tenant !== undefined ? " (with the --tier/--tenant given)" : "";
    for (const id of missing) lines.push(`${id}: no dead letter for this job${filtered}`);
    if (lines.length === 0) lines.push("no dead-lettered jobs to replay");
    process.stdout.write(`${lines.join("\n")}\n`);
    if (missing.length > 0) process.exitCode = 1;
  } finally {
    await nc.close();
  }
}

/** The dead letters of the named jobs (the latest, if a job has several), and the ids that have none. */
function pick(letters: readonly DeadLetter[], ids: readonly string[]): { chosen: DeadLetter[]; missing: string[] } {
  const byId = new Map(letters.map((l) => [l.job.id, l]));
  const wanted = [...new Set(ids)];
  return {
    chosen: wanted.flatMap((id) => byId.get(id) ?? []),
    missing: wanted.filter((id) => !byId.has(id)),
  };
}

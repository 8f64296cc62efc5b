import { createClient } from "@connectrpc/connect";
import { endpointUrl, loadConfig } from "@tiermesh/config";
import { HealthMonitorService, LauncherService, TierState, type TierStatusEvent } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { processLines } from "./process-lines.js";

export const statusUsage = "tiermesh status|watch [--config <file>]";

function line(e: TierStatusEvent): string {
  const sli = e.sli;
  const state = (TierState[e.state] ?? "?").padEnd(9);
  const numbers = sli ? `n=${sli.sampleCount} err=${(sli.errorRate * 100).toFixed(1)}% ttft_p95=${sli.ttftP95Ms}ms` : "";
  return `${e.tier.padEnd(10)} ${state} ${numbers.padEnd(40)} #${e.sequence} ${e.reason}${jobsOf(e)}`;
}

/** A tier's job backlog, for tiers that take jobs. */
export function jobsOf(e: TierStatusEvent): string {
  const j = e.jobs;
  if (!j) return "";
  const oldest = Number(j.oldestQueuedAgeMs) / 1_000;
  return `\n${"".padEnd(21)}jobs: queued=${j.queued} running=${j.inProgress} oldest=${oldest.toFixed(oldest < 10 ? 1 : 0)}s dead=${j.deadLettered}`;
}

/** The processes `tiermesh up` supervises, or a note that no launcher answers. */
async function launcherLines(url: string): Promise<string[]> {
  const client = createClient(LauncherService, createMeshTransport(url));
  try {
    const res = await client.listProcesses({}, { timeoutMs: 2_000 });
    return processLines(res.processes);
  } catch {
    return [`(no tiermesh up answers at ${url}: process restarts unknown)`];
  }
}

/** Prints every tier's status and the processes of the mesh once, or follows tier changes with `watch`. */
export async function status(configFile: string, watch: boolean): Promise<void> {
  const config = loadConfig(configFile);
  const client = createClient(HealthMonitorService, createMeshTransport(endpointUrl(config.health_monitor)));
  if (!watch) {
    const [tiers, processes] = await Promise.allSettled([
      client.getStatus({}, { timeoutMs: 5_000 }),
      launcherLines(endpointUrl(config.launcher)),
    ]);
    if (processes.status === "fulfilled") process.stdout.write(`${processes.value.join("\n")}\n\n`);
    if (tiers.status === "rejected") throw tiers.reason;
    for (const e of tiers.value.tiers) process.stdout.write(`${line(e)}\n`);
    return;
  }
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  try {
    for await (const res of client.watchStatus({}, { signal: abort.signal })) {
      if (res.event) process.stdout.write(`${new Date(Number(res.event.atMs)).toISOString()} ${line(res.event)}\n`);
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
}

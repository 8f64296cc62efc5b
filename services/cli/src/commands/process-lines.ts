import { ProcessState, type ProcessStatus } from "@tiermesh/proto";

const stateNames: Record<ProcessState, string> = {
  [ProcessState.UNSPECIFIED]: "?",
  [ProcessState.RUNNING]: "running",
  [ProcessState.RESTARTING]: "restarting",
  [ProcessState.EXITED]: "exited",
  [ProcessState.STOPPED]: "stopped",
};

function lastExit(p: ProcessStatus): string {
  const exit = p.lastExit;
  if (!exit) return "";
  const how = exit.signal ? exit.signal : `code ${exit.code ?? "?"}`;
  return `last exit ${how} at ${new Date(Number(exit.atMs)).toISOString()} after ${(Number(exit.uptimeMs) / 1_000).toFixed(1)} s`;
}

/** One line per supervised process: name, state, pid, restarts and how it last ended. */
export function processLines(processes: readonly ProcessStatus[]): string[] {
  return [
    `${"process".padEnd(15)} ${"state".padEnd(10)} ${"pid".padEnd(8)} restarts`,
    ...processes.map((p) =>
      `${p.name.padEnd(15)} ${stateNames[p.state].padEnd(10)} ${String(p.pid || "-").padEnd(8)} ${String(p.restarts).padEnd(8)} ${lastExit(p)}`.trimEnd(),
    ),
  ];
}

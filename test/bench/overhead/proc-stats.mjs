// CPU time and memory of processes, read from /proc (Linux only).
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Fields of /proc/<pid>/stat after the command name; index 0 is field 3 (state). */
function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** User + system CPU time of a process in ms (this process: process.cpuUsage, µs resolution). */
export function cpuMs(pid) {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1_000;
  }
  try {
    const f = statFields(pid);
    return ((Number(f[11]) + Number(f[12])) * 1_000) / ticksPerSecond;
  } catch {
    return NaN; // the process is gone
  }
}

/** VmRSS and VmHWM of a process in MB, or undefined once it is gone. */
export function memoryMb(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
  } catch {
    return undefined;
  }
}

/** Pids of this process's children running `comm` (e.g. the launcher's private nats-server). */
export function childPids(comm) {
  const pids = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (name === comm && Number(statFields(entry)[1]) === process.pid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** CPU ms of each process at this instant: take one before and one after a window. */
export const cpuSnapshot = (procs) => Object.fromEntries(procs.map((p) => [p.name, cpuMs(p.pid)]));

/**
 * Samples the memory of `procs` every `intervalMs` until stopped; peak is the highest VmRSS
 * seen, or VmHWM where larger (the kernel's own peak since start; not used for this process,
 * whose peak includes the modes measured before).
 */
export function startMemorySampler(procs, intervalMs = 200) {
  const peak = Object.fromEntries(procs.map((p) => [p.name, 0]));
  const sample = () => {
    for (const p of procs) {
      const m = memoryMb(p.pid);
      if (m) peak[p.name] = Math.max(peak[p.name], m.rss, p.pid === process.pid ? 0 : m.hwm);
    }
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      sample();
      return peak;
    },
  };
}

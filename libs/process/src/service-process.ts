import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { boundToParent } from "./parent-bound.js";

export interface ServiceProcessOptions {
  /** Label for output lines. */
  name: string;
  command: string;
  args: readonly string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Receives each line the process prints (stdout and stderr). */
  onLine?: (name: string, line: string, stream: "stdout" | "stderr") => void;
}

export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Epoch ms of the spawn. */
  readonly startedAt: number;
  /** True once `stop` was called: the process was asked to go. */
  readonly stopRequested: boolean;
  /** Last lines printed, newest last (at most 200). */
  readonly lines: readonly string[];
  /** Resolves with the exit code (or signal name) when the process ends. */
  readonly exited: Promise<number | string>;
  /** Sends `signal` (SIGTERM by default), escalates to SIGKILL after `graceMs`, resolves at exit. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | string>;
}

/** Spawns one tiermesh process, which ends if this one dies, and keeps its output. */
export function spawnServiceProcess(options: ServiceProcessOptions): ServiceProcess {
  const { command, args } = boundToParent(options.command, options.args);
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const startedAt = Date.now();
  let stopRequested = false;
  const lines: string[] = [];
  const collect = (stream: "stdout" | "stderr") => (line: string) => {
    lines.push(line);
    if (lines.length > 200) lines.shift();
    options.onLine?.(options.name, line, stream);
  };
  createInterface({ input: child.stdout! }).on("line", collect("stdout"));
  createInterface({ input: child.stderr! }).on("line", collect("stderr"));
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
    child.once("error", (err) => {
      collect("stderr")(String(err));
      resolve("spawn-error");
    });
  });
  return {
    name: options.name,
    child,
    startedAt,
    get stopRequested() {
      return stopRequested;
    },
    lines,
    exited,
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      stopRequested = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        const result = await exited;
        clearTimeout(timer);
        return result;
      }
      return exited;
    },
  };
}

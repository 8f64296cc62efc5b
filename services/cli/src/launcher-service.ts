import type { ServiceImpl } from "@connectrpc/connect";
import { type LauncherService, ProcessState } from "@tiermesh/proto";
import type { SupervisedState } from "@tiermesh/process";
import type { ProcessStatus } from "./supervised-process.js";

const states: Record<SupervisedState, ProcessState> = {
  running: ProcessState.RUNNING,
  restarting: ProcessState.RESTARTING,
  exited: ProcessState.EXITED,
  stopped: ProcessState.STOPPED,
};

/** Answers `tiermesh status` with the processes the launcher supervises. */
export function createLauncherService(deps: { natsUrl: () => string; status: () => ProcessStatus[] }): ServiceImpl<typeof LauncherService> {
  return {
    listProcesses() {
      return {
        natsUrl: deps.natsUrl(),
        processes: deps.status().map((p) => ({
          name: p.name,
          pid: p.pid ?? 0,
          state: states[p.state],
          restarts: p.restarts,
          ...(p.lastExit
            ? {
                lastExit: {
                  pid: p.lastExit.pid ?? 0,
                  ...(p.lastExit.code !== null ? { code: p.lastExit.code } : {}),
                  signal: p.lastExit.signal ?? "",
                  uptimeMs: BigInt(p.lastExit.uptimeMs),
                  atMs: BigInt(p.lastExit.atMs),
                },
              }
            : {}),
        })),
      };
    },
  };
}

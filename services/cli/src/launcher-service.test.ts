import { createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { LauncherService, ProcessState } from "@tiermesh/proto";
import { processLines } from "./commands/process-lines.js";
import { createLauncherService } from "./launcher-service.js";
import type { ProcessStatus } from "./supervised-process.js";

const statuses: ProcessStatus[] = [
  {
    name: "nats-server",
    pid: 41,
    state: "running",
    restarts: 1,
    lastExit: { pid: 40, code: null, signal: "SIGKILL", uptimeMs: 12_000, requested: false, atMs: Date.UTC(2026, 0, 1) },
  },
  {
    name: "classifier",
    pid: undefined,
    state: "restarting",
    restarts: 3,
    lastExit: { pid: 52, code: 1, signal: null, uptimeMs: 300, requested: false, atMs: Date.UTC(2026, 0, 1) },
  },
  { name: "router", pid: 60, state: "running", restarts: 0, lastExit: undefined },
];

describe("LauncherService", () => {
  const transport = createRouterTransport(({ service }) => {
    service(LauncherService, createLauncherService({ natsUrl: () => "nats://127.0.0.1:4222", status: () => statuses }));
  });
  const client = createClient(LauncherService, transport);

  it("lists each supervised process with its pid, state, restarts and last exit", async () => {
    const res = await client.listProcesses({});
    expect(res.natsUrl).toBe("nats://127.0.0.1:4222");
    expect(res.processes.map((p) => [p.name, p.pid, p.state, p.restarts])).toEqual([
      ["nats-server", 41, ProcessState.RUNNING, 1],
      ["classifier", 0, ProcessState.RESTARTING, 3],
      ["router", 60, ProcessState.RUNNING, 0],
    ]);
    expect(res.processes[0]!.lastExit).toMatchObject({ pid: 40, signal: "SIGKILL", uptimeMs: 12_000n });
    expect(res.processes[0]!.lastExit!.code).toBeUndefined();
    expect(res.processes[1]!.lastExit).toMatchObject({ code: 1, signal: "" });
    expect(res.processes[2]!.lastExit).toBeUndefined();
  });

  it("reads as one line per process in tiermesh status", async () => {
    const lines = processLines((await client.listProcesses({})).processes);
    expect(lines).toEqual([
      "process         state      pid      restarts",
      "nats-server     running    41       1        last exit SIGKILL at 2026-01-01T00:00:00.000Z after 12.0 s",
      "classifier      restarting -        3        last exit code 1 at 2026-01-01T00:00:00.000Z after 0.3 s",
      "router          running    60       0",
    ]);
  });
});

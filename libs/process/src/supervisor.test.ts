import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Supervisor, type ProcessExit } from "./supervisor.js";

function logs() {
  const lines: { level: string; obj: Record<string, unknown>; msg: string }[] = [];
  const at = (level: string) => (obj: object, msg: string) => lines.push({ level, obj: obj as Record<string, unknown>, msg });
  return { lines, logger: { info: at("info"), warn: at("warn"), error: at("error") } };
}

const crash = (pid: number, uptimeMs = 10): ProcessExit => ({ pid, code: null, signal: "SIGKILL", uptimeMs, requested: false });

describe("Supervisor", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("restarts a crashed process after the backoff delay and logs the exit and the restart", async () => {
    const { lines, logger } = logs();
    let pid = 100;
    const restart = vi.fn(async () => ++pid);
    const sup = new Supervisor({ name: "classifier", restart, logger, backoff: { initialMs: 200, jitter: 0 } });
    sup.exited(crash(100));
    expect(sup.state).toBe("restarting");
    await vi.advanceTimersByTimeAsync(199);
    expect(restart).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(restart).toHaveBeenCalledTimes(1);
    expect(sup.state).toBe("running");
    expect(sup.restarts).toBe(1);
    expect(lines[0]).toMatchObject({
      level: "warn",
      obj: { service: "classifier", pid: 100, exitCode: null, signal: "SIGKILL", restarts: 0, nextRestart: 1, nextDelayMs: 200 },
    });
    expect(lines[1]).toMatchObject({ level: "info", obj: { service: "classifier", pid: 101, restarts: 1 }, msg: "classifier restarted" });
  });

  it("leaves a process down that exited 0 or was stopped by its owner", () => {
    const { lines, logger } = logs();
    const restart = vi.fn(async () => 1);
    const sup = new Supervisor({ name: "router", restart, logger });
    sup.exited({ pid: 1, code: 0, signal: null, uptimeMs: 5, requested: false });
    sup.exited({ pid: 1, code: null, signal: "SIGKILL", uptimeMs: 5, requested: true });
    vi.runAllTimers();
    expect(restart).not.toHaveBeenCalled();
    expect(sup.state).toBe("exited");
    expect(lines.map((l) => l.msg)).toEqual(["router exited cleanly; not restarting", "router exited on request; not restarting"]);
  });

  it("logs a crash loop as an error and keeps retrying", async () => {
    const { lines, logger } = logs();
    let pid = 0;
    const sup = new Supervisor({
      name: "nats-server",
      restart: async () => ++pid,
      logger,
      backoff: { initialMs: 10, maxMs: 40, jitter: 0, crashLoopAfter: 3 },
    });
    for (let i = 0; i < 6; i++) {
      sup.exited(crash(pid));
      await vi.runAllTimersAsync();
    }
    expect(sup.restarts).toBe(6);
    const exits = lines.filter((l) => l.level !== "info");
    expect(exits.map((l) => l.level)).toEqual(["warn", "warn", "error", "error", "error", "error"]);
    expect(exits.map((l) => l.obj["nextDelayMs"])).toEqual([10, 20, 40, 40, 40, 40]);
    expect(exits[2]!.msg).toMatch(/crash-looping/);
  });

  it("restarts nothing once stopped, not even a restart already scheduled", async () => {
    const { logger } = logs();
    const restart = vi.fn(async () => 1);
    const sup = new Supervisor({ name: "executor-gold", restart, logger });
    sup.exited(crash(1));
    await sup.stop();
    sup.exited(crash(1));
    await vi.runAllTimersAsync();
    expect(restart).not.toHaveBeenCalled();
    expect(sup.state).toBe("stopped");
  });
});

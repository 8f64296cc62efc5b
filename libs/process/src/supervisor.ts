import { RestartBackoff, type RestartBackoffOptions } from "./restart-backoff.js";

interface SupervisorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** How a supervised process ended. */
export interface ProcessExit {
  pid: number | undefined;
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: string | null;
  /** How long it had been running. */
  uptimeMs: number;
  /** True when its owner asked it to stop: no restart. */
  requested: boolean;
}

export interface SupervisorOptions {
  /** Service name, in logs and status. */
  name: string;
  /** Starts a new process in place of the dead one; resolves to its pid once it answers. Its exit is reported with `exited`. */
  restart: () => Promise<number | undefined>;
  logger: SupervisorLogger;
  backoff?: Partial<RestartBackoffOptions>;
  random?: () => number;
}

/** running: up; restarting: waiting to restart or starting; exited: ended on request or cleanly; stopped: supervision over. */
export type SupervisedState = "running" | "restarting" | "exited" | "stopped";

/** Converts a child process's exit (code or signal name, as `ServiceProcess.exited` gives it) into code and signal. */
export function exitOf(result: number | string): { code: number | null; signal: string | null } {
  return typeof result === "number" ? { code: result, signal: null } : { code: null, signal: result };
}

/**
 * Restarts one process when it dies, with backoff. A process that exits 0 or whose owner
 * stopped it is left down (it was asked to go); anything else is a crash. After `stop`
 * nothing is restarted any more, so shutdown never races a restart.
 */
export class Supervisor {
  private readonly backoff: RestartBackoff;
  private timer: NodeJS.Timeout | undefined;
  private current: SupervisedState = "running";
  private count = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new RestartBackoff(options.backoff, options.random);
  }

  get restarts(): number {
    return this.count;
  }

  get state(): SupervisedState {
    return this.current;
  }

  /** Reports that the supervised process ended. */
  exited(exit: ProcessExit): void {
    if (this.current === "stopped") return;
    const { name, logger } = this.options;
    const fields = { service: name, pid: exit.pid, exitCode: exit.code, signal: exit.signal, uptimeMs: exit.uptimeMs };
    if (exit.requested || exit.code === 0) {
      this.current = "exited";
      logger.info({ ...fields, restarts: this.count }, `${name} exited ${exit.requested ? "on request" : "cleanly"}; not restarting`);
      return;
    }
    const decision = this.backoff.next(exit.uptimeMs);
    this.current = "restarting";
    const report = {
      ...fields,
      restarts: this.count,
      nextRestart: this.count + 1,
      nextDelayMs: decision.delayMs,
      consecutive: decision.consecutive,
    };
    if (decision.crashLoop) {
      logger.error(
        { ...report, crashLoop: true },
        `${name} is crash-looping (${decision.consecutive} crashes in a row, each soon after starting); restarting in ${decision.delayMs} ms`,
      );
    } else {
      logger.warn(report, `${name} died; restarting in ${decision.delayMs} ms`);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.restartNow();
    }, decision.delayMs);
  }

  private get stopped(): boolean {
    return this.current === "stopped";
  }

  private async restartNow(): Promise<void> {
    if (this.stopped) return;
    const { name, logger } = this.options;
    this.count += 1;
    try {
      const pid = await this.options.restart();
      if (this.stopped) return;
      if (this.current === "restarting" && this.timer === undefined) this.current = "running";
      logger.info({ service: name, pid, restarts: this.count }, `${name} restarted`);
    } catch (err) {
      if (this.stopped) return;
      // A new process that died has already scheduled the next attempt through `exited`;
      // one that lives but did not answer in time is left running.
      logger.warn({ service: name, err, restarts: this.count }, `${name} did not come back`);
      if (this.current === "restarting" && this.timer === undefined) this.current = "running";
    }
  }

  /**
   * Ends supervision: cancels a pending restart. A restart in progress has already spawned
   * its process (the owner stops it); its wait for readiness is not awaited.
   */
  async stop(): Promise<void> {
    this.current = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

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
  /** Starts a new process in place of the dead one; resolves to its pid. Its exit is reported with `exited`. */
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
  private restarting: Promise<void> | undefined;
  private current: SupervisedState = "running";
  private count = 0;
  private last: ProcessExit | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.backoff = new RestartBackoff(options.backoff, options.random);
  }

  get restarts(): number {
    return this.count;
  }

  get state(): SupervisedState {
    return this.current;
  }

  get lastExit(): ProcessExit | undefined {
    return this.last;
  }

  /** Reports that the supervised process ended. */
  exited(exit: ProcessExit): void {
    this.last = exit;
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
    const report = { ...fields, restarts: this.count, nextRestart: this.count + 1, nextDelayMs: decision.delayMs, consecutive: decision.consecutive };
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
      this.restarting = this.restartNow().finally(() => (this.restarting = undefined));
    }, decision.delayMs);
  }

  private async restartNow(): Promise<void> {
    if (this.current === "stopped") return;
    const { name, logger } = this.options;
    this.count += 1;
    try {
      const pid = await this.options.restart();
      if (this.current === "restarting") this.current = "running";
      logger.info({ service: name, pid, restarts: this.count }, `${name} restarted`);
    } catch (err) {
      // The new process's exit (reported through `exited`) schedules the next attempt.
      logger.warn({ service: name, err, restarts: this.count }, `${name} did not come back`);
    }
  }

  /** Ends supervision: cancels a pending restart and waits for one in progress to finish. */
  async stop(): Promise<void> {
    this.current = "stopped";
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.restarting;
  }
}

import { pino, type Logger, type LevelWithSilent } from "pino";

export type { Logger } from "pino";

/** The one root logger of a process; services and requests take `child()` loggers from it. */
export function createLogger(service: string, level: LevelWithSilent = "info"): Logger {
  return pino({
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}

/**
 * The logger of the launcher (`tiermesh up`), whose lines are about the processes it runs:
 * `service` and `pid` in them name the supervised process, so it binds neither of its own.
 */
export function createLauncherLogger(level: LevelWithSilent = "info"): Logger {
  return pino({ level, base: { component: "launcher" }, timestamp: pino.stdTimeFunctions.isoTime });
}

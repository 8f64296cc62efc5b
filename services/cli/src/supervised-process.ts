import {
  exitOf,
  Supervisor,
  type NatsServer,
  type ProcessExit,
  type RestartBackoffOptions,
  type ServiceProcess,
  type SupervisedState,
} from "@tiermesh/process";
import type { Logger } from "@tiermesh/runtime";

/** Where one process of the mesh stands, for `tiermesh status`. */
export interface ProcessStatus {
  name: string;
  /** Undefined when no process runs. */
  pid: number | undefined;
  state: SupervisedState;
  restarts: number;
  lastExit: (ProcessExit & { atMs: number }) | undefined;
}

export interface SupervisionOptions {
  logger: Logger;
  backoff?: Partial<RestartBackoffOptions> | undefined;
}

/** One process of the mesh that the launcher restarts when it dies. */
export interface SupervisedProcess {
  readonly name: string;
  status(): ProcessStatus;
  /** Ends supervision (no more restarts) and stops the process. */
  stop(): Promise<void>;
  /** Ends supervision only; the process keeps running. */
  unsupervise(): Promise<void>;
}

function track(supervisor: Supervisor) {
  let lastExit: ProcessStatus["lastExit"];
  return {
    exited(exit: ProcessExit) {
      lastExit = { ...exit, atMs: Date.now() };
      supervisor.exited(exit);
    },
    get lastExit() {
      return lastExit;
    },
  };
}

/**
 * Spawns a service with `spawn` and spawns it again, with backoff, every time it dies; a
 * restart counts as done once `ready` resolves (the service answers again).
 */
export function superviseService(
  name: string,
  spawn: () => ServiceProcess,
  ready: () => Promise<void>,
  options: SupervisionOptions,
): SupervisedProcess {
  let current: ServiceProcess | undefined;
  const launch = () => {
    const proc = spawn();
    current = proc;
    void proc.exited.then((result) =>
      exits.exited({ pid: proc.child.pid, ...exitOf(result), uptimeMs: Date.now() - proc.startedAt, requested: proc.stopRequested }),
    );
    return proc;
  };
  const restart = async () => {
    const proc = launch();
    const died = proc.exited.then((result) => {
      throw new Error(`exited (${result}) before answering: ${proc.lines.slice(-3).join(" | ")}`);
    });
    await Promise.race([ready(), died]);
    return proc.child.pid;
  };
  const supervisor = new Supervisor({ name, logger: options.logger, backoff: options.backoff, restart });
  const exits = track(supervisor);
  launch();
  const alive = () => current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
  return {
    name,
    status: () => ({
      name,
      pid: alive() ? current!.child.pid : undefined,
      state: supervisor.state,
      restarts: supervisor.restarts,
      lastExit: exits.lastExit,
    }),
    async stop() {
      await supervisor.stop();
      await current?.stop();
    },
    unsupervise: () => supervisor.stop(),
  };
}

/** Restarts the private nats-server on its port, with its data, every time it dies. */
export function superviseNats(nats: NatsServer, options: SupervisionOptions): SupervisedProcess {
  const name = "nats-server";
  const supervisor = new Supervisor({
    name,
    logger: options.logger,
    backoff: options.backoff,
    async restart() {
      await nats.start();
      return nats.pid;
    },
  });
  const exits = track(supervisor);
  nats.onExit((exit) => exits.exited(exit));
  return {
    name,
    status: () => ({
      name,
      pid: nats.pid,
      // Its owner may have started it again by hand after stopping it.
      state: nats.pid !== undefined && supervisor.state === "exited" ? "running" : supervisor.state,
      restarts: supervisor.restarts,
      lastExit: exits.lastExit,
    }),
    async stop() {
      await supervisor.stop();
      await nats.dispose();
    },
    unsupervise: () => supervisor.stop(),
  };
}

export { freePort } from "./free-port.js";
export {
  findNatsServer,
  NatsServerMissingError,
  startNatsServer,
  waitForPort,
  type NatsServer,
  type NatsServerOptions,
} from "./nats-server.js";
export { spawnServiceProcess, type ServiceProcess, type ServiceProcessOptions } from "./service-process.js";
export {
  defaultRestartBackoff,
  RestartBackoff,
  restartDelay,
  type RestartBackoffOptions,
  type RestartDecision,
} from "./restart-backoff.js";
export { exitOf, Supervisor, type ProcessExit, type SupervisedState, type SupervisorOptions } from "./supervisor.js";

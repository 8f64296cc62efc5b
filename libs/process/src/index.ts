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

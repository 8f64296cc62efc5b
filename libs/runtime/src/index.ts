export { createLogger, type Logger } from "./logger.js";
export { createHealthService, HealthStatus, ServingStatus } from "./health-service.js";
export { createRpcServer, type RpcServer, type RpcServerOptions } from "./rpc-server.js";
export { createMeshTransport } from "./rpc-client.js";
export { runService, StartupError, type RunningService, type ServiceArgs } from "./service-main.js";
export { deadlineFrom, remainingMs } from "./deadline.js";
export { waitForServing } from "./wait-serving.js";
export { ConfigWatcher, type ConfigWatcherOptions } from "./config-watcher.js";
export { Counter, createMetricsRegistry, Gauge, Histogram, Registry } from "./metrics.js";

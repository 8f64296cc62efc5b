export { createHealthMonitorServer, type HealthMonitorServer } from "./monitor-server.js";
export { createHealthMonitorService, type MonitorServiceDeps } from "./monitor-service.js";
export { StatusBoard, type StatusBoardOptions } from "./status-board.js";
export { TierHealth } from "./tier-health.js";
export { TierStateMachine, type Signals, type Transition } from "./tier-state-machine.js";
export { SliWindow, type Sli } from "./sli-window.js";
export { CanaryProber } from "./canary-prober.js";
export { TierConsole, type TierConsoleOptions } from "./console/tier-console.js";
export { ConsoleHub, type ConsoleHubOptions } from "./console/console-hub.js";
export type {
  ConsoleMessage,
  ConsoleSnapshot,
  ConsoleState,
  ConsoleTick,
  ConsoleTier,
  ConsoleTraffic,
  SeriesPoint,
  TimelineEntry,
  TrafficFlow,
} from "./console/console-types.js";

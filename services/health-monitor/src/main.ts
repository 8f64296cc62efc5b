import { runService } from "@tiermesh/runtime";
import { createHealthMonitorServer } from "./monitor-server.js";

await runService("health-monitor", [], async ({ config, logger }) => {
  const server = createHealthMonitorServer(config, logger);
  const port = await server.rpc.listen(config.health_monitor.listen);
  await server.start();
  logger.info({ port }, "health monitor serving");
  return server;
});

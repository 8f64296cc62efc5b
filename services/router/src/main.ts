import { ConfigWatcher, runService } from "@tiermesh/runtime";
import { createRouterServer } from "./router-server.js";

await runService("router", [], async ({ config, configFile, logger }) => {
  const server = createRouterServer(config, logger);
  const port = await server.rpc.listen(config.router.listen);
  const watcher = new ConfigWatcher({
    file: configFile,
    onConfig(next) {
      server.reload(next);
      logger.info("config reloaded");
    },
    onRefused: (err) => logger.error({ err: err.message }, "new config refused; keeping the running one"),
  });
  watcher.start();
  logger.info({ port }, "router serving");
  return {
    async close() {
      watcher.stop();
      await server.close();
    },
  };
});

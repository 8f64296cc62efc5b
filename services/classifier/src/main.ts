import { ConfigWatcher, runService } from "@tiermesh/runtime";
import { createClassifierServer } from "./classifier-server.js";

await runService("classifier", [], async ({ config, configFile, logger }) => {
  const server = createClassifierServer(config, logger);
  const port = await server.rpc.listen(config.classifier.listen);
  const watcher = new ConfigWatcher({
    file: configFile,
    onConfig(next) {
      server.reload(next);
      logger.info({ rules: next.classifier.rules.length, plans: Object.keys(next.plans).length }, "config reloaded");
    },
    onRefused: (err) => logger.error({ err: err.message }, "new config refused; keeping the running one"),
  });
  watcher.start();
  logger.info({ port }, "classifier serving");
  return {
    async close() {
      watcher.stop();
      await server.rpc.close();
    },
  };
});

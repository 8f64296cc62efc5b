import { runService } from "@tiermesh/runtime";
import { createClassifierServer } from "./classifier-server.js";

await runService("classifier", [], async ({ config, logger }) => {
  const server = createClassifierServer(config, logger);
  const port = await server.rpc.listen(config.classifier.listen);
  logger.info({ port }, "classifier serving");
  return { close: () => server.rpc.close() };
});

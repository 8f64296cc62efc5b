import { runService } from "@tiermesh/runtime";
import { createRouterServer } from "./router-server.js";

await runService("router", [], async ({ config, logger }) => {
  const server = createRouterServer(config, logger);
  const port = await server.rpc.listen(config.router.listen);
  logger.info({ port }, "router serving");
  return server;
});

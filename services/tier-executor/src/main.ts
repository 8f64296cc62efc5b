import { runService, StartupError } from "@tiermesh/runtime";
import { createTierExecutorServer } from "./executor-server.js";

await runService("tier-executor", ["tier"], async ({ config, logger, options }) => {
  const tier = options["tier"];
  if (!tier) throw new StartupError(`missing --tier <name> (tiers: ${Object.keys(config.tiers).join(", ")})`);
  const server = createTierExecutorServer(config, tier, logger.child({ tier }));
  const port = await server.rpc.listen(config.tiers[tier]!.executor.listen);
  logger.info({ tier, port }, "tier executor serving");
  return server;
});

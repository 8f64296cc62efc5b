import { ConfigError, splitHostPort } from "@tiermesh/config";
import { runService, StartupError } from "@tiermesh/runtime";
import { createSimulator } from "./simulator-server.js";
import { simulatorConfigSchema } from "./simulator-config.js";

await runService("simulator", [], async ({ config, configFile, logger }) => {
  if (config.simulator === undefined) throw new StartupError(`${configFile} has no simulator section`);
  const parsed = simulatorConfigSchema.safeParse(config.simulator);
  if (!parsed.success) throw ConfigError.fromZod(configFile, parsed.error, ["simulator"]);
  const simulator = createSimulator(parsed.data, { logger });
  const { host, port } = splitHostPort(parsed.data.listen);
  const bound = await simulator.listen(port, host);
  logger.info({ port: bound, models: Object.keys(parsed.data.models) }, "simulated provider serving");
  return simulator;
});

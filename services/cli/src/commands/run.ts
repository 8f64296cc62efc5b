import { pathToFileURL, fileURLToPath } from "node:url";
import { runService } from "@tiermesh/runtime";
import { startOneProcessMesh } from "../one-process-mesh.js";

export const services = {
  router: "@tiermesh/router",
  classifier: "@tiermesh/classifier",
  "tier-executor": "@tiermesh/tier-executor",
  "health-monitor": "@tiermesh/health-monitor",
  simulator: "@tiermesh/simulator",
} as const;

export const runUsage = `tiermesh run <${Object.keys(services).join("|")}|mesh> --config <file> [--tier <name>]`;

/**
 * Runs one service in this process, as a platform team deploys them: one process per
 * service; or, with "mesh", classifier, executors, monitor and router together (one-process mode).
 */
export async function run(service: string, args: readonly string[]): Promise<void> {
  if (service === "mesh") {
    process.argv = [process.argv[0]!, "tiermesh-mesh", ...args];
    return runService("mesh", [], ({ config, configFile }) => startOneProcessMesh(config, configFile));
  }
  const pkg = services[service as keyof typeof services];
  if (pkg === undefined) throw new Error(`unknown service "${service}"; usage: ${runUsage}`);
  const main = fileURLToPath(import.meta.resolve(`${pkg}/main`));
  process.argv = [process.argv[0]!, main, ...args];
  await import(pathToFileURL(main).href);
}

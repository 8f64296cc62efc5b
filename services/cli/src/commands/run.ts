import { pathToFileURL, fileURLToPath } from "node:url";

export const services = {
  router: "@tiermesh/router",
  classifier: "@tiermesh/classifier",
  "tier-executor": "@tiermesh/tier-executor",
  "health-monitor": "@tiermesh/health-monitor",
  simulator: "@tiermesh/simulator",
} as const;

export const runUsage = `tiermesh run <${Object.keys(services).join("|")}> --config <file> [--tier <name>]`;

/** Runs one service in this process, as a platform team deploys them: one process per service. */
export async function run(service: string, args: readonly string[]): Promise<void> {
  const pkg = services[service as keyof typeof services];
  if (pkg === undefined) throw new Error(`unknown service "${service}"; usage: ${runUsage}`);
  const main = fileURLToPath(import.meta.resolve(`${pkg}/main`));
  process.argv = [process.argv[0]!, main, ...args];
  await import(pathToFileURL(main).href);
}

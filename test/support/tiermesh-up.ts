import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnServiceProcess, type ServiceProcess } from "@tiermesh/process";

/** The CLI's entry script. */
export const cli = join(fileURLToPath(new URL("../../", import.meta.url)), "services/cli/dist/main.js");

/**
 * `tiermesh up --config <configFile> --quiet` as a process of its own, resolved once it printed
 * "tiermesh is up"; rejects with its last lines if it exits first or takes over `timeoutMs`.
 */
export async function startTiermeshUp(configFile: string, timeoutMs = 60_000): Promise<ServiceProcess> {
  const up = spawnServiceProcess({ name: "up", command: process.execPath, args: [cli, "up", "--config", configFile, "--quiet"] });
  const deadline = Date.now() + timeoutMs;
  while (!up.lines.some((l) => l.startsWith("tiermesh is up"))) {
    if (up.child.exitCode !== null || up.child.signalCode !== null) {
      throw new Error(`tiermesh up exited (${up.child.exitCode ?? up.child.signalCode}): ${up.lines.slice(-5).join(" | ")}`);
    }
    if (Date.now() > deadline) {
      await up.stop("SIGKILL");
      throw new Error(`tiermesh up did not come up within ${timeoutMs} ms: ${up.lines.slice(-5).join(" | ")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return up;
}

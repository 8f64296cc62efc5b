import { loadConfig } from "@tiermesh/config";
import { configDiff, renderDiff } from "@tiermesh/plan-sheet";
import { UsageError } from "../usage-error.js";

export const configDiffUsage = "tiermesh config diff <old.yaml> <new.yaml>";

/**
 * Prints what changes for customers between two config files and returns the exit code, as
 * diff does: 0 when nothing a customer can see changes, 1 when something does. A missing
 * argument or an invalid config throws (the CLI exits 2, naming the file and the field).
 */
export function configDiffCommand(args: readonly string[]): number {
  const files = args.filter((a) => !a.startsWith("-"));
  const flags = args.filter((a) => a.startsWith("-"));
  if (flags.length > 0) throw new UsageError(`config diff: unknown option ${flags[0]}\nusage: ${configDiffUsage}`);
  if (files.length !== 2) throw new UsageError(`config diff: expected two config files, got ${files.length}\nusage: ${configDiffUsage}`);
  // The files alone: environment overrides (NATS URL, log level) are not the customers' concern.
  const sections = configDiff(loadConfig(files[0]!, {}), loadConfig(files[1]!, {}));
  process.stdout.write(renderDiff(sections));
  return sections.length === 0 ? 0 : 1;
}

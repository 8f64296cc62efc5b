import { loadConfig } from "@tiermesh/config";
import type { ModelProfile } from "@tiermesh/simulator";
import { drillUsage, parseDrillArgs, type DrillOptions } from "../drill/drill-options.js";
import { resolveDrillTarget, type DrillTarget } from "../drill/drill-target.js";
import { formatReport } from "../drill/report-text.js";
import { runDrill } from "../drill/run-drill.js";
import { UsageError } from "../usage-error.js";

export { drillUsage };

function parse(args: readonly string[]): { o: DrillOptions; target: DrillTarget } {
  try {
    const o = parseDrillArgs(args);
    return { o, target: resolveDrillTarget(loadConfig(o.config), o.config, o) };
  } catch (err) {
    if (err instanceof UsageError) throw new UsageError(`${err.message}\nusage: ${drillUsage}`, { cause: err });
    throw err;
  }
}

const restoreHint = (target: DrillTarget, profile: ModelProfile) =>
  `restore it by hand: curl -s -X PATCH ${target.simulatorUrl}/admin/models/${encodeURIComponent(target.model)} ` +
  `-H 'content-type: application/json' -d '${JSON.stringify(profile)}'`;

/**
 * Rehearses a failure of one tier under open-loop traffic: healthy traffic, the fault on the
 * tier's simulated model, the model put back as it was, traffic after; then reports what
 * callers saw. Exits 0 when the drill ran, whatever the figures; 130 when cut short by Ctrl-C.
 */
export async function drill(args: readonly string[]): Promise<void> {
  const { o, target } = parse(args);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const abort = new AbortController();
  let pending: ModelProfile | undefined;
  const onSignal = () => {
    if (!abort.signal.aborted) {
      log(`drill: stopping; putting ${target.model} back first (Ctrl-C again to quit at once)`);
      abort.abort();
      return;
    }
    if (pending) log(`drill: ${target.model} may still be faulted; ${restoreHint(target, pending)}`);
    process.exit(130);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    const report = await runDrill(o, target, { log, signal: abort.signal, onPendingRestore: (p) => (pending = p) });
    process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    if (!report.restored && pending) log(`drill: ${restoreHint(target, pending)}`);
    if (!report.restored) process.exitCode = 1;
    else if (report.interrupted) process.exitCode = 130;
  } catch (err) {
    if (pending) log(`drill: ${restoreHint(target, pending)}`);
    throw err;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

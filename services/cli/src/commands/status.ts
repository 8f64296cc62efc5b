import { createClient } from "@connectrpc/connect";
import { endpointUrl, loadConfig } from "@tiermesh/config";
import { HealthMonitorService, TierState, type TierStatusEvent } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";

export const statusUsage = "tiermesh status|watch [--config <file>]";

function line(e: TierStatusEvent): string {
  const sli = e.sli;
  const state = (TierState[e.state] ?? "?").padEnd(9);
  const numbers = sli
    ? `n=${sli.sampleCount} err=${(sli.errorRate * 100).toFixed(1)}% ttft_p95=${sli.ttftP95Ms}ms`
    : "";
  return `${e.tier.padEnd(10)} ${state} ${numbers.padEnd(40)} #${e.sequence} ${e.reason}`;
}

/** Prints every tier's status once, or follows changes with `watch`. */
export async function status(configFile: string, watch: boolean): Promise<void> {
  const config = loadConfig(configFile);
  const client = createClient(HealthMonitorService, createMeshTransport(endpointUrl(config.health_monitor)));
  if (!watch) {
    const res = await client.getStatus({}, { timeoutMs: 5_000 });
    for (const e of res.tiers) process.stdout.write(`${line(e)}\n`);
    return;
  }
  const abort = new AbortController();
  process.on("SIGINT", () => abort.abort());
  try {
    for await (const res of client.watchStatus({}, { signal: abort.signal })) {
      if (res.event) process.stdout.write(`${new Date(Number(res.event.atMs)).toISOString()} ${line(res.event)}\n`);
    }
  } catch (err) {
    if (!abort.signal.aborted) throw err;
  }
}

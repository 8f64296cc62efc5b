import { loadConfig } from "@tiermesh/config";
import { rebuildAggregates } from "@tiermesh/ledger";
import { connectMeshNats } from "../mesh-nats.js";
import { UsageError } from "../usage-error.js";

export const ledgerUsage = "tiermesh ledger rebuild [--config <file>]";

/**
 * `rebuild`: drops the usage aggregates and the aggregator's consumer, so the leading health
 * monitor replays the whole ledger stream into fresh aggregates.
 */
export async function ledger(sub: string | undefined, configFile: string | undefined): Promise<void> {
  if (sub !== "rebuild") throw new UsageError(`ledger: unknown subcommand "${sub ?? ""}"; usage: ${ledgerUsage}`);
  const config = loadConfig(configFile ?? "deploy/tiermesh.example.yaml");
  const nc = await connectMeshNats(config);
  try {
    const removed = await rebuildAggregates(nc, config.ledger);
    process.stdout.write(
      `removed ${removed} aggregate keys; the leading health monitor now rebuilds them from stream ${config.ledger.stream}\n`,
    );
  } finally {
    await nc.close();
  }
}

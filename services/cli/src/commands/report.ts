import { createClient } from "@connectrpc/connect";
import { endpointUrl, loadConfig } from "@tiermesh/config";
import { ReportService } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { UsageError } from "../usage-error.js";
import { formatReport, reportFormats, type ReportFormat } from "./report-format.js";

export const reportUsage =
  "tiermesh report [--tenant <t>] [--period 2026-11|2026-11-26 | --from <ISO time> --to <ISO time>] [--format table|json|csv] [--config <file>]";

export interface ReportOptions {
  config?: string | undefined;
  tenant?: string | undefined;
  period?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  format?: string | undefined;
}

function time(flag: string, value: string | undefined): bigint {
  if (value === undefined) return 0n;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new UsageError(`--${flag}: expected an ISO time such as 2026-11-26T00:00:00Z, got "${value}"`);
  return BigInt(ms);
}

/** Prints usage, SLA and budget per tenant and tier, as the health monitor's ReportService gives them. */
export async function report(options: ReportOptions): Promise<void> {
  const format = (options.format ?? "table") as ReportFormat;
  if (!reportFormats.includes(format)) throw new UsageError(`--format: expected one of ${reportFormats.join(", ")}`);
  if (options.period && (options.from || options.to)) throw new UsageError("--period: give a period or --from/--to, not both");
  const config = loadConfig(options.config ?? "deploy/tiermesh.example.yaml");
  const client = createClient(ReportService, createMeshTransport(endpointUrl(config.health_monitor)));
  const res = await client.getReport(
    { tenant: options.tenant ?? "", period: options.period ?? "", fromMs: time("from", options.from), toMs: time("to", options.to) },
    { timeoutMs: 10_000 },
  );
  process.stdout.write(formatReport(res, format));
}

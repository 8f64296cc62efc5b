import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { KV } from "@nats-io/kv";
import type { Config } from "@tiermesh/config";
import { buildReport, monthEnd, PeriodError, periodRange, readAggregates } from "@tiermesh/ledger";
import type { GetReportRequest, ReportService } from "@tiermesh/proto";

export interface ReportServiceDeps {
  /** The usage aggregates bucket; undefined until NATS answers. */
  aggregates: () => KV | undefined;
  config: () => Pick<Config, "tiers" | "plans" | "tenants">;
}

const HOUR_MS = 3_600_000;

/** The period a request asks for: `period`, else `from_ms`/`to_ms` (whole hours), else this month. */
export function reportRange(req: GetReportRequest, now = Date.now()): { fromMs: number; toMs: number } {
  if (req.period !== "") {
    try {
      return periodRange(req.period);
    } catch (cause) {
      if (cause instanceof PeriodError) throw new ConnectError(cause.message, Code.InvalidArgument, undefined, undefined, cause);
      throw cause;
    }
  }
  if (req.fromMs !== 0n || req.toMs !== 0n) {
    const fromMs = Math.floor(Number(req.fromMs) / HOUR_MS) * HOUR_MS;
    const toMs = req.toMs === 0n ? now : Math.ceil(Number(req.toMs) / HOUR_MS) * HOUR_MS;
    if (toMs <= fromMs) throw new ConnectError("to_ms: must be after from_ms", Code.InvalidArgument);
    return { fromMs, toMs };
  }
  const from = periodRange(new Date(now).toISOString().slice(0, 7));
  return { fromMs: from.fromMs, toMs: monthEnd(now) };
}

/** Usage and SLA per tenant and tier, from the hourly aggregates every monitor replica can read. */
export function createReportService(deps: ReportServiceDeps): ServiceImpl<typeof ReportService> {
  return {
    async getReport(req) {
      if (req.tenant !== "" && !/^[a-z][a-z0-9_-]{0,62}$/.test(req.tenant))
        throw new ConnectError("tenant: expected a tenant name", Code.InvalidArgument);
      const range = reportRange(req);
      const kv = deps.aggregates();
      if (!kv) throw new ConnectError("usage aggregates unavailable: NATS has not answered yet", Code.Unavailable);
      try {
        const aggregates = await readAggregates(kv, req.tenant ? `${req.tenant}.>` : ">", range);
        return buildReport(aggregates, deps.config(), { tenant: req.tenant, ...range });
      } catch (cause) {
        throw ConnectError.from(cause, Code.Unavailable);
      }
    },
  };
}

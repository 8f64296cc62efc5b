import { create } from "@bufbuild/protobuf";
import { tenantBudget, type Config } from "@tiermesh/config";
import {
  GetReportResponseSchema,
  ReportRowSchema,
  TenantBudgetUseSchema,
  UsageAggregateSchema,
  type GetReportResponse,
  type ReportRow,
  type UsageAggregate,
} from "@tiermesh/proto";
import { bucketQuantile } from "./latency-buckets.js";
import { parseAggregateKey } from "./ledger-names.js";
import { monthEnd } from "./periods.js";
import { addAggregate } from "./usage-aggregate.js";

export interface ReportRange {
  /** Only this tenant; empty or undefined: every tenant with usage. */
  tenant?: string | undefined;
  fromMs: number;
  toMs: number;
}

const share = (part: bigint, whole: bigint) => (whole === 0n ? 0 : Number(part) / Number(whole));

/**
 * The SLA report from hourly aggregates: per tenant and tier (the tier the tenant was entitled
 * to), then a "*" row with the tenant's totals. SLO shares are against each tier's objectives
 * in `config` (TTFT: `slo.ttft_p95_ms`; availability: `slo.availability_target`).
 */
export function buildReport(
  aggregates: Iterable<[string, UsageAggregate]>,
  config: Pick<Config, "tiers" | "plans" | "tenants">,
  range: ReportRange,
): GetReportResponse {
  const byTier = new Map<string, UsageAggregate>();
  const byTenant = new Map<string, UsageAggregate>();
  for (const [key, agg] of aggregates) {
    const k = parseAggregateKey(key);
    if (!k || k.hourMs < range.fromMs || k.hourMs >= range.toMs) continue;
    if (range.tenant && k.tenant !== range.tenant) continue;
    const sum = (map: Map<string, UsageAggregate>, id: string, tier: string) => {
      const into = map.get(id) ?? create(UsageAggregateSchema, { tenant: k.tenant, tier });
      addAggregate(into, agg);
      map.set(id, into);
    };
    sum(byTier, `${k.tenant}\u0000${k.tier}`, k.tier);
    sum(byTenant, k.tenant, "*");
  }
  const rows: ReportRow[] = [];
  const tenants = [...byTenant.keys()].sort();
  for (const tenant of tenants) {
    const tiers = [...byTier.values()].filter((a) => a.tenant === tenant);
    const rank = (t: string) => (Object.hasOwn(config.tiers, t) ? config.tiers[t]!.rank : -1);
    tiers.sort((a, b) => rank(b.tier) - rank(a.tier) || a.tier.localeCompare(b.tier));
    for (const a of [...tiers, byTenant.get(tenant)!]) rows.push(row(a, config));
  }
  const month = range.toMs - range.fromMs > 27 * 86_400_000 && monthEnd(range.fromMs) === range.toMs;
  const budgets = tenants.map((tenant) => {
    const b = tenantBudget(config, tenant);
    const cost = byTenant.get(tenant)!.costUsd;
    const monthly = b?.monthly_usd ?? 0;
    return create(TenantBudgetUseSchema, {
      tenant,
      plan: b?.plan ?? planOf(config, tenant),
      costUsd: cost,
      monthlyBudgetUsd: monthly,
      budgetUsedShare: month && monthly > 0 ? cost / monthly : 0,
    });
  });
  return create(GetReportResponseSchema, { fromMs: BigInt(range.fromMs), toMs: BigInt(range.toMs), rows, budgets });
}

function planOf(config: Pick<Config, "tenants">, tenant: string): string {
  return Object.hasOwn(config.tenants, tenant) ? config.tenants[tenant]!.plan : "";
}

function row(a: UsageAggregate, config: Pick<Config, "tiers" | "tenants">): ReportRow {
  const slo = Object.hasOwn(config.tiers, a.tier) ? config.tiers[a.tier]!.slo : undefined;
  return create(ReportRowSchema, {
    tenant: a.tenant,
    plan: a.plan || planOf(config, a.tenant),
    tier: a.tier,
    requests: a.requests,
    ok: a.ok,
    failed: a.failed,
    refused: a.refused,
    sloMetShare: share(a.metTtftSlo, a.requests),
    availability: share(a.ok, a.ok + a.failed),
    availabilityObjective: slo?.availability_target ?? 0,
    ttftObjectiveMs: slo?.ttft_p95_ms ?? 0,
    servedEntitledShare: share(a.servedEntitled, a.requests),
    ttftP50Ms: bucketQuantile(a.ttftBuckets, 0.5),
    ttftP95Ms: bucketQuantile(a.ttftBuckets, 0.95),
    ttftP99Ms: bucketQuantile(a.ttftBuckets, 0.99),
    latencyP50Ms: bucketQuantile(a.latencyBuckets, 0.5),
    latencyP95Ms: bucketQuantile(a.latencyBuckets, 0.95),
    latencyP99Ms: bucketQuantile(a.latencyBuckets, 0.99),
    promptTokens: a.promptTokens,
    completionTokens: a.completionTokens,
    costUsd: a.costUsd,
  });
}

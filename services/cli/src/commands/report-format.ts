import type { GetReportResponse, ReportRow } from "@tiermesh/proto";

export const reportFormats = ["table", "json", "csv"] as const;
export type ReportFormat = (typeof reportFormats)[number];

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;
const usd = (x: number) => `$${x.toFixed(4)}`;
const iso = (ms: bigint) => new Date(Number(ms)).toISOString();

const COLUMNS: { name: string; value: (r: ReportRow) => string; csv: (r: ReportRow) => string }[] = [
  { name: "tenant", value: (r) => r.tenant, csv: (r) => r.tenant },
  { name: "plan", value: (r) => r.plan, csv: (r) => r.plan },
  { name: "tier", value: (r) => (r.tier === "*" ? "(all)" : r.tier), csv: (r) => r.tier },
  { name: "requests", value: (r) => String(r.requests), csv: (r) => String(r.requests) },
  { name: "failed", value: (r) => String(r.failed), csv: (r) => String(r.failed) },
  { name: "refused", value: (r) => String(r.refused), csv: (r) => String(r.refused) },
  { name: "ttft_slo_met", value: (r) => `${pct(r.sloMetShare)} (<${r.ttftObjectiveMs || "-"}ms)`, csv: (r) => String(r.sloMetShare) },
  {
    name: "availability",
    value: (r) => `${pct(r.availability)}${r.availabilityObjective ? ` / ${pct(r.availabilityObjective)}` : ""}`,
    csv: (r) => String(r.availability),
  },
  { name: "at_entitled", value: (r) => pct(r.servedEntitledShare), csv: (r) => String(r.servedEntitledShare) },
  {
    name: "ttft_p50/p95/p99",
    value: (r) => `${r.ttftP50Ms}/${r.ttftP95Ms}/${r.ttftP99Ms}ms`,
    csv: (r) => `${r.ttftP50Ms}/${r.ttftP95Ms}/${r.ttftP99Ms}`,
  },
  {
    name: "latency_p50/p95/p99",
    value: (r) => `${r.latencyP50Ms}/${r.latencyP95Ms}/${r.latencyP99Ms}ms`,
    csv: (r) => `${r.latencyP50Ms}/${r.latencyP95Ms}/${r.latencyP99Ms}`,
  },
  { name: "tokens_in", value: (r) => String(r.promptTokens), csv: (r) => String(r.promptTokens) },
  { name: "tokens_out", value: (r) => String(r.completionTokens), csv: (r) => String(r.completionTokens) },
  { name: "cost", value: (r) => usd(r.costUsd), csv: (r) => String(r.costUsd) },
];

/** The report as text: an aligned table (then budget use), JSON, or CSV (one line per row, raw numbers). */
export function formatReport(report: GetReportResponse, format: ReportFormat): string {
  if (format === "json") return `${JSON.stringify(reportJson(report), null, 2)}\n`;
  if (format === "csv") {
    const lines = [COLUMNS.map((c) => c.name).join(",")];
    for (const r of report.rows) lines.push(COLUMNS.map((c) => csvCell(c.csv(r))).join(","));
    return `${lines.join("\n")}\n`;
  }
  const header = `usage from ${iso(report.fromMs)} to ${iso(report.toMs)}`;
  if (report.rows.length === 0) return `${header}\n(no usage)\n`;
  const cells = [COLUMNS.map((c) => c.name), ...report.rows.map((r) => COLUMNS.map((c) => c.value(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((row) => row[i]!.length)));
  const lines = cells.map((row) => row.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  "));
  const budgets = report.budgets.map((b) =>
    b.monthlyBudgetUsd > 0
      ? `${b.tenant}: ${usd(b.costUsd)} of ${usd(b.monthlyBudgetUsd)} monthly budget${b.budgetUsedShare > 0 ? ` (${pct(b.budgetUsedShare)} used)` : ""}`
      : `${b.tenant}: ${usd(b.costUsd)} (no monthly budget)`,
  );
  return `${header}\n${lines.join("\n")}\n\nbudget\n${budgets.map((b) => `  ${b}`).join("\n")}\n`;
}

/** The report as plain JSON (numbers as numbers, timestamps as ISO strings). */
export function reportJson(report: GetReportResponse): object {
  return {
    from: iso(report.fromMs),
    to: iso(report.toMs),
    rows: report.rows.map((r) => ({
      tenant: r.tenant,
      plan: r.plan,
      tier: r.tier,
      requests: Number(r.requests),
      ok: Number(r.ok),
      failed: Number(r.failed),
      refused: Number(r.refused),
      ttft_slo_met_share: r.sloMetShare,
      ttft_objective_ms: r.ttftObjectiveMs,
      availability: r.availability,
      availability_objective: r.availabilityObjective,
      served_entitled_share: r.servedEntitledShare,
      ttft_ms: { p50: r.ttftP50Ms, p95: r.ttftP95Ms, p99: r.ttftP99Ms },
      latency_ms: { p50: r.latencyP50Ms, p95: r.latencyP95Ms, p99: r.latencyP99Ms },
      prompt_tokens: Number(r.promptTokens),
      completion_tokens: Number(r.completionTokens),
      cost_usd: r.costUsd,
    })),
    budgets: report.budgets.map((b) => ({
      tenant: b.tenant,
      plan: b.plan,
      cost_usd: b.costUsd,
      monthly_budget_usd: b.monthlyBudgetUsd,
      budget_used_share: b.budgetUsedShare,
    })),
  };
}

function csvCell(s: string): string {
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

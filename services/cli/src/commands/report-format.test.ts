import { create } from "@bufbuild/protobuf";
import { GetReportResponseSchema } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { formatReport } from "./report-format.js";

const report = create(GetReportResponseSchema, {
  fromMs: BigInt(Date.UTC(2026, 10, 1)),
  toMs: BigInt(Date.UTC(2026, 11, 1)),
  rows: [
    {
      tenant: "acme",
      plan: "pro",
      tier: "gold",
      requests: 10n,
      ok: 9n,
      failed: 1n,
      sloMetShare: 0.8,
      availability: 0.9,
      availabilityObjective: 0.99,
      ttftObjectiveMs: 500,
      servedEntitledShare: 0.7,
      ttftP50Ms: 100,
      ttftP95Ms: 400,
      ttftP99Ms: 500,
      costUsd: 0.5,
      promptTokens: 100n,
      completionTokens: 50n,
    },
    { tenant: "acme", plan: "pro", tier: "*", requests: 10n, ok: 9n, failed: 1n, costUsd: 0.5 },
  ],
  budgets: [{ tenant: "acme", plan: "pro", costUsd: 0.5, monthlyBudgetUsd: 10, budgetUsedShare: 0.05 }],
});

describe("formatReport", () => {
  it("prints an aligned table with the budget used", () => {
    const text = formatReport(report, "table");
    expect(text).toContain("usage from 2026-11-01T00:00:00.000Z to 2026-12-01T00:00:00.000Z");
    expect(text).toMatch(/acme\s+pro\s+gold\s+10\s+1\s+0\s+80\.00% \(<500ms\)\s+90\.00% \/ 99\.00%\s+70\.00%\s+100\/400\/500ms/);
    expect(text).toContain("(all)");
    expect(text).toContain("acme: $0.5000 of $10.0000 monthly budget (5.00% used)");
  });

  it("writes raw numbers in CSV and JSON", () => {
    const csv = formatReport(report, "csv").trim().split("\n");
    expect(csv[0]).toBe(
      "tenant,plan,tier,requests,failed,refused,ttft_slo_met,availability,at_entitled,ttft_p50/p95/p99,latency_p50/p95/p99,tokens_in,tokens_out,cost",
    );
    expect(csv[1]).toBe("acme,pro,gold,10,1,0,0.8,0.9,0.7,100/400/500,0/0/0,100,50,0.5");
    const json = JSON.parse(formatReport(report, "json"));
    expect(json.rows[0]).toMatchObject({
      tenant: "acme",
      tier: "gold",
      requests: 10,
      ttft_slo_met_share: 0.8,
      ttft_ms: { p50: 100, p95: 400, p99: 500 },
      cost_usd: 0.5,
    });
    expect(json.budgets[0]).toEqual({ tenant: "acme", plan: "pro", cost_usd: 0.5, monthly_budget_usd: 10, budget_used_share: 0.05 });
  });
});

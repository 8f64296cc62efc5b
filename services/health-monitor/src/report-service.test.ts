import { create } from "@bufbuild/protobuf";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { GetReportRequestSchema, ReportService } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { createReportService, reportRange } from "./report-service.js";

const req = (init: object) => create(GetReportRequestSchema, init);

describe("ReportService", () => {
  it("reads a month, a day, whole hours around from/to, or this month", () => {
    expect(reportRange(req({ period: "2026-11" }))).toEqual({ fromMs: Date.UTC(2026, 10, 1), toMs: Date.UTC(2026, 11, 1) });
    expect(reportRange(req({ fromMs: BigInt(Date.UTC(2026, 10, 3, 4, 30)), toMs: BigInt(Date.UTC(2026, 10, 3, 6, 10)) }))).toEqual({
      fromMs: Date.UTC(2026, 10, 3, 4),
      toMs: Date.UTC(2026, 10, 3, 7),
    });
    expect(reportRange(req({}), Date.UTC(2026, 10, 26, 9))).toEqual({ fromMs: Date.UTC(2026, 10, 1), toMs: Date.UTC(2026, 11, 1) });
  });

  it("refuses a bad period or tenant INVALID_ARGUMENT, and answers UNAVAILABLE without the bucket", async () => {
    const client = createClient(
      ReportService,
      createRouterTransport(({ service }) =>
        service(ReportService, createReportService({ aggregates: () => undefined, config: () => ({ tiers: {}, plans: {}, tenants: {} }) })),
      ),
    );
    await expect(client.getReport({ period: "2026-13" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.getReport({ tenant: "acme.>" })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.getReport({ fromMs: 7_200_000n, toMs: 3_600_000n })).rejects.toMatchObject({ code: Code.InvalidArgument });
    await expect(client.getReport({ period: "2026-11" })).rejects.toMatchObject({ code: Code.Unavailable });
  });
});

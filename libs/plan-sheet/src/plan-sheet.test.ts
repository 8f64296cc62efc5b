import { readFileSync } from "node:fs";
import { parseConfig, type Config } from "@tiermesh/config";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { planSheet } from "./plan-sheet.js";
import { escapeHtml, renderHtml } from "./sheet-html.js";
import { escapeMarkdown, renderMarkdown } from "./sheet-markdown.js";

const exampleText = readFileSync(new URL("../../../deploy/tiermesh.example.yaml", import.meta.url), "utf8");
const example = parseConfig(exampleText, "tiermesh.example.yaml", {});

/** The example config with `edit` applied to its YAML. */
function edited(edit: (raw: Record<string, any>) => void): Config {
  const raw = parse(exampleText) as Record<string, any>;
  edit(raw);
  return parseConfig(stringify(raw), "edited.yaml", {});
}

const markdown = (config: Config, tenant?: string) => renderMarkdown(planSheet(config, { tenant }));

/** The Markdown section of one plan. */
const section = (md: string, plan: string) => md.split(/^## /m).find((s) => s.startsWith(`Plan ${plan}`)) ?? "";

describe("plan sheet of the example config", () => {
  const md = markdown(example);

  it("has a section per plan, with its range, default tier and urgencies", () => {
    expect(md.match(/^## Plan \w+/gm)).toEqual(["## Plan enterprise", "## Plan pro", "## Plan free"]);
    const enterprise = section(md, "enterprise");
    expect(enterprise).toContain("Tiers: silver to gold. gold is the ceiling");
    expect(enterprise).toContain("silver is the floor");
    expect(enterprise).toContain("Default tier: gold");
    expect(section(md, "free")).toContain("Urgencies: interactive, batch (default batch).");
  });

  it("gives each allowed tier its objectives and its pool's models with prices", () => {
    const enterprise = section(md, "enterprise");
    expect(enterprise).toContain(
      "| gold | ceiling, default | 95% of answers start within 800 ms | 99% of attempts succeed | sim-gold-large (sim): $5.00 in / $15.00 out per 1M tokens, 128,000-token context |",
    );
    expect(enterprise).toContain("| silver | floor | 95% of answers start within 1.5 s |");
    // Bronze is below enterprise's floor: not promised to it.
    expect(enterprise).not.toContain("sim-bronze-small");
    expect(section(md, "pro")).toContain(
      "| bronze | floor | 95% of answers start within 5 s | 99% of attempts succeed | sim-bronze-small (sim): $0.10 in / $0.40 out",
    );
  });

  it("says where a tier's requests go when it is degraded or down, never below the plan's floor", () => {
    const enterprise = section(md, "enterprise");
    expect(enterprise).toContain(
      "| gold | stay on gold | served by silver | retried on silver in the same request | 25%, 50%, 100% of its traffic returns, one step every 2 s |",
    );
    expect(enterprise).toContain("| silver | stay on silver | stay on silver (no tier below it within the plan) |");
    expect(section(md, "pro")).toContain("| gold | stay on gold | served by silver, then bronze |");
  });

  it("applies the rules within the plan's range", () => {
    expect(section(md, "enterprise")).toContain(
      "urgency batch: silver (the rule says bronze; the plan's range makes it silver), because batch work tolerates latency.",
    );
    expect(section(md, "free")).toContain("urgency interactive: silver, because free plan interactive traffic is served by silver.");
    // The free plan's rule is not the pro plan's.
    expect(section(md, "pro")).not.toContain("urgency interactive");
  });

  it("states rate limits and budget", () => {
    const pro = section(md, "pro");
    expect(pro).toContain("600 requests per minute.");
    expect(pro).toContain(
      "200,000 tokens per minute: a request counts its prompt and its max_tokens, or 256 tokens (the tiers' default max_tokens) when it sets none.",
    );
    expect(pro).toContain(
      "$500.00 a month and $50.00 a day of spend per tenant (UTC calendar month and day; the nearer to its budget counts): from 80% of it, requests are no longer promoted",
    );
    expect(section(md, "free")).toContain("or 500 tokens when it sets none.");
    expect(section(md, "enterprise")).toContain("No limit on requests per minute.");
    expect(section(md, "enterprise")).toContain("No budget.");
  });
});

describe("plan sheet follows the config", () => {
  it("changes with a tier's SLO, pool, ceiling and limits", () => {
    const before = markdown(example);
    const after = markdown(
      edited((raw) => {
        raw.tiers.gold.slo.ttft_p95_ms = 600;
        raw.tiers.gold.slo.availability_target = 0.995;
        raw.tiers.gold.models.push({ provider: "sim", model: "sim-gold-xl", price: { input_per_mtok: 10, output_per_mtok: 30 } });
        raw.plans.pro.max_tier = "silver";
        raw.plans.enterprise.limits = { requests_per_minute: 3000 };
      }),
    );
    expect(after).not.toBe(before);
    expect(section(after, "enterprise")).toContain(
      "| gold | ceiling, default | 95% of answers start within 600 ms | 99.5% of attempts succeed |",
    );
    expect(section(after, "enterprise")).toContain("sim-gold-xl (sim): $10.00 in / $30.00 out per 1M tokens");
    expect(section(after, "enterprise")).toContain("3,000 requests per minute.");
    expect(section(after, "pro")).toContain("Tiers: bronze to silver.");
    expect(section(after, "pro")).not.toContain("| gold |");
  });

  it("describes promotion, its capacity share and its budget gate", () => {
    const md = markdown(
      edited((raw) => {
        raw.tiers.silver.routing = { on_degraded: "promote", on_down: "promote", promote_share: 0.3 };
      }),
    );
    const pro = section(md, "pro");
    expect(pro).toContain(
      "| silver | promoted to gold (up to 30% of its capacity, while the budget allows promotions); otherwise stay on silver | promoted to gold (up to 30% of its capacity, while the budget allows promotions); otherwise served by bronze |",
    );
    // The free plan's ceiling is silver: nothing to promote to.
    expect(section(md, "free")).toContain("| silver | stay on silver (no higher tier within the plan's ceiling to promote to) |");
  });

  it("renders one tenant's plan with the tenant's own limits", () => {
    const config = edited((raw) => {
      raw.tenants.acme = { plan: "pro", limits: { requests_per_minute: 1200 } };
    });
    const md = markdown(config, "acme");
    expect(md).toMatch(/^# What tenant acme is promised/);
    expect(md.match(/^## .*/gm)).toEqual(["## Plan pro, for tenant acme"]);
    expect(md).toContain("1,200 requests per minute (this tenant's own limit).");
    expect(md).toContain("200,000 tokens per minute:");
    expect(() => planSheet(config, { tenant: "nobody" })).toThrow(/unknown tenant "nobody"/);
  });
});

describe("escaping", () => {
  const hostile = edited((raw) => {
    raw.tiers.gold.models[0].model = '<script>alert("x")</script>|*bold*';
    raw.classifier.rules[0].reason = "fast & <cheap>";
  });

  it("escapes config text in HTML", () => {
    const html = renderHtml(planSheet(hostile));
    expect(html).not.toContain("<script>");
    expect(html).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;|*bold*");
    expect(html).toContain("fast &amp; &lt;cheap&gt;");
    expect(html).toMatch(/^<!doctype html>/);
    expect(escapeHtml(`a'b"c&<>`)).toBe("a&#39;b&quot;c&amp;&lt;&gt;");
  });

  it("escapes Markdown markup and table pipes", () => {
    const md = markdown(hostile);
    expect(md).toContain('\\<script\\>alert("x")\\</script\\>\\|\\*bold\\*');
    expect(escapeMarkdown("max_tokens _x_")).toBe("max_tokens \\_x\\_");
  });
});

describe("README", () => {
  it("shows the example config's sheet as the command prints it", () => {
    const readme = readFileSync(new URL("../../../README.md", import.meta.url), "utf8");
    const pasted =
      /For `deploy\/tiermesh\.example\.yaml` \(`node services\/cli\/dist\/main\.js plans`, pasted as printed\):\n\n```markdown\n([\s\S]*?)```/.exec(
        readme,
      )?.[1];
    expect(pasted).toBe(markdown(example));
  });
});

import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deployPath, readYaml } from "../support/deploy-files.js";
import { parseExposition, type MetricFamily } from "../support/metric-families.js";
import { selectorsOf, withoutGrafanaVariables } from "../support/promql-selectors.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}
interface Dashboard {
  panels: Panel[];
  templating: { list: { name: string; definition?: string }[] };
}

const rules = readYaml<{ groups: { name: string; rules: Rule[] }[] }>(deployPath("prometheus", "tiermesh-alerts.yaml")).groups.flatMap(
  (g) => g.rules,
);
const dashboard = JSON.parse(readFileSync(deployPath("grafana", "tiermesh-dashboard.json"), "utf8")) as Dashboard;
const recorded = new Set(rules.flatMap((r) => (r.record ? [r.record] : [])));
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);

/** Every PromQL expression of the rules and the dashboard, named for messages. */
const queries: { where: string; expr: string }[] = [
  ...rules.map((r) => ({ where: `rule ${r.record ?? r.alert}`, expr: r.expr })),
  ...panels(dashboard.panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({ where: `panel "${p.title}"`, expr: withoutGrafanaVariables(t.expr) })),
  ),
  ...dashboard.templating.list.flatMap((v) => {
    const series = /label_values\((\w+),/.exec(v.definition ?? "")?.[1];
    return series ? [{ where: `variable ${v.name}`, expr: series }] : [];
  }),
];

/** Labels Prometheus adds to every scraped series, and those deploy/prometheus/prometheus.yml adds. */
const SCRAPE_LABELS = ["instance", "job", "component"];

describe("alert rules and dashboard, against the metrics the services export", () => {
  let m: RunningMesh;
  const exported = new Map<string, MetricFamily>();

  beforeAll(async () => {
    m = await startMesh();
    // One answered request, so the request counters and histograms have samples and labels.
    const res = await fetch(`${m.routerUrl}/tiermesh.router.v1.RouterService/Complete`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { messages: [{ role: "user", content: "Hello" }] } }),
    });
    expect(res.status).toBe(200);
    for (const url of [m.routerUrl, m.monitorUrl, ...Object.values(m.executorUrls)]) {
      const page = await fetch(`${url}/metrics`);
      expect(page.status, `${url}/metrics`).toBe(200);
      parseExposition(await page.text(), exported);
    }
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("every query parses as PromQL", () => {
    expect(queries.length).toBeGreaterThan(40);
    for (const q of queries) expect(() => selectorsOf(q.expr), q.where).not.toThrow();
  });

  it("every series a query selects is one a service exports, or a rule of the same file records", () => {
    const unknown = queries.flatMap((q) =>
      selectorsOf(q.expr)
        .filter((s) => !exported.has(s.metric) && !recorded.has(s.metric))
        .map((s) => `${q.where}: ${s.metric}`),
    );
    expect(unknown).toEqual([]);
  });

  it("every label a query matches on is one the series carries", () => {
    const wrong = queries.flatMap((q) =>
      selectorsOf(q.expr).flatMap((s) => {
        const family = exported.get(s.metric);
        if (!family || family.labels.size === 0) return [];
        const known = new Set([...family.labels, ...SCRAPE_LABELS]);
        return s.labels.filter((l) => !known.has(l)).map((l) => `${q.where}: ${s.metric}{${l}}`);
      }),
    );
    expect(wrong).toEqual([]);
  });

  it("counts the answered request toward its tier's SLIs at the monitor, which the burn-rate rules read", async () => {
    const counted = async () => {
      const text = await (await fetch(`${m.monitorUrl}/metrics`)).text();
      return [...text.matchAll(/^tiermesh_monitor_sli_events_total\{[^}]*sli="availability"[^}]*\} (\S+)$/gm)].reduce(
        (sum, [, v]) => sum + Number(v),
        0,
      );
    };
    const until = Date.now() + 10_000;
    while ((await counted()) < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    expect(await counted()).toBeGreaterThanOrEqual(1);
  });

  it("covers what operators page on: tier state, burn rate, errors, 429s, stale policy, budget", () => {
    const alerts = rules.flatMap((r) => (r.alert ? [r] : []));
    const names = new Set(alerts.map((a) => a.alert));
    for (const name of [
      "TiermeshTierDown",
      "TiermeshTierDegraded",
      "TiermeshErrorBudgetBurn",
      "TiermeshRouterErrors",
      "TiermeshProviderRateLimited",
      "TiermeshRouterPolicyStale",
      "TiermeshTenantBudgetSpent",
    ]) {
      expect(names, name).toContain(name);
    }
    for (const a of alerts) {
      expect(a.labels?.["severity"], a.alert).toMatch(/^(critical|warning|info)$/);
      expect(a.annotations?.["summary"], a.alert).toBeTruthy();
    }
  });
});

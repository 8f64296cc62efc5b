import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { deployPath, readYaml } from "../support/deploy-files.js";
import { selectorsOf, withoutGrafanaVariables } from "../support/promql-selectors.js";

interface Target {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: unknown }[] };
}

const dashboardFile = deployPath("grafana", "tiermesh-dashboard.json");
const dashboard = JSON.parse(readFileSync(dashboardFile, "utf8")) as Dashboard;
const panels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...panels(p.panels ?? [])]);
const all = panels(dashboard.panels);
/** Grafana's own variables, which a query may use without defining them. */
const BUILT_IN = new Set(["__rate_interval", "__interval", "__range"]);

// biome-ignore lint/suspicious/noTemplateCurlyInString: a Grafana variable, not a template literal
const PROMETHEUS = { type: "prometheus", uid: "${datasource}" };

describe("deploy/grafana/tiermesh-dashboard.json", () => {
  it("is a dashboard with a uid, its data source a variable, and the provisioning that loads it", () => {
    expect(dashboard.uid).toBe("tiermesh");
    expect(dashboard.title).toBeTruthy();
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    const datasource = dashboard.templating.list.find((v) => v.type === "datasource");
    expect(datasource).toMatchObject({ name: "datasource", query: "prometheus" });
    const provisioning = readYaml<{ providers: { options: { path: string } }[] }>(deployPath("grafana", "dashboards.yaml"));
    expect(provisioning.providers.length).toBeGreaterThan(0);
  });

  it("lays out panels with unique ids on Grafana's 24-column grid", () => {
    const ids = all.map((p) => p.id);
    expect(new Set(ids).size, "unique panel ids").toBe(ids.length);
    for (const p of all) {
      expect(p.title, `panel ${p.id}`).toBeTruthy();
      expect(p.type, `panel ${p.id}`).toMatch(/^(row|stat|timeseries|state-timeline|table|gauge|bargauge|text)$/);
      const { h, w, x, y } = p.gridPos;
      for (const n of [h, w, x, y]) expect(Number.isInteger(n) && n >= 0, `panel ${p.id} gridPos`).toBe(true);
      expect(x + w, `panel ${p.id} fits in 24 columns`).toBeLessThanOrEqual(24);
    }
  });

  it("queries Prometheus through the data source variable, each target with its own refId and PromQL that parses", () => {
    const variables = new Set(dashboard.templating.list.map((v) => v.name));
    for (const p of all.filter((p) => p.type !== "row" && p.type !== "text")) {
      const where = `panel "${p.title}"`;
      expect(p.datasource, where).toEqual(PROMETHEUS);
      expect(p.targets?.length, where).toBeGreaterThan(0);
      const refIds = p.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, `${where}: unique refIds`).toBe(refIds.length);
      for (const t of p.targets!) {
        expect(t.datasource ?? p.datasource, `${where} ${t.refId}`).toEqual(PROMETHEUS);
        for (const [, name] of t.expr.matchAll(/\$\{?([A-Za-z_]\w*)\}?/g))
          expect(variables.has(name!) || BUILT_IN.has(name!), `${where}: $${name}`).toBe(true);
        expect(() => selectorsOf(withoutGrafanaVariables(t.expr)), `${where} ${t.refId}`).not.toThrow();
      }
    }
  });
});

import { describe, expect, it } from "vitest";
import { deployPath, readYaml } from "../support/deploy-files.js";
import { selectorsOf } from "../support/promql-selectors.js";

interface Rule {
  record?: string;
  alert?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  [field: string]: unknown;
}
interface RulesFile {
  groups: { name: string; interval?: string; rules: Rule[]; [field: string]: unknown }[];
  [field: string]: unknown;
}

const file = readYaml<RulesFile>(deployPath("prometheus", "tiermesh-alerts.yaml"));
const rules = file.groups.flatMap((g) => g.rules);
const records = new Map(rules.flatMap((r) => (r.record ? [[r.record, r] as const] : [])));
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

/** Fields Prometheus accepts in a rules file (rulefmt), so a misspelt one fails here, not at load. */
const GROUP_FIELDS = new Set(["name", "interval", "limit", "query_offset", "labels", "rules"]);
const RECORD_FIELDS = new Set(["record", "expr", "labels"]);
const ALERT_FIELDS = new Set(["alert", "expr", "for", "keep_firing_for", "labels", "annotations"]);

describe("deploy/prometheus/tiermesh-alerts.yaml", () => {
  it("is a Prometheus rules file: named groups of rules, each a recording rule or an alert, with known fields only", () => {
    expect(Object.keys(file)).toEqual(["groups"]);
    const names = file.groups.map((g) => g.name);
    expect(new Set(names).size, "group names are unique").toBe(names.length);
    for (const g of file.groups) {
      expect(
        Object.keys(g).filter((k) => !GROUP_FIELDS.has(k)),
        g.name,
      ).toEqual([]);
      expect(g.rules.length, g.name).toBeGreaterThan(0);
      for (const r of g.rules) {
        const where = `${g.name}: ${r.record ?? r.alert}`;
        expect(Boolean(r.record) !== Boolean(r.alert), `${where}: record or alert, not both`).toBe(true);
        expect(typeof r.expr, where).toBe("string");
        expect(() => selectorsOf(r.expr), where).not.toThrow();
        const allowed = r.record ? RECORD_FIELDS : ALERT_FIELDS;
        expect(
          Object.keys(r).filter((k) => !allowed.has(k)),
          where,
        ).toEqual([]);
        if (r.record) expect(r.record, "level:metric:operations").toMatch(/^[a-z_]+:[a-z0-9_]+:[a-z0-9_]+$/);
        if (r.alert) {
          expect(r.alert).toMatch(/^Tiermesh[A-Z][A-Za-z]+$/);
          if (r.for !== undefined) expect(r.for, where).toMatch(DURATION);
          expect(r.labels?.["severity"], where).toMatch(/^(critical|warning|info)$/);
          expect(r.annotations?.["summary"], where).toBeTruthy();
        }
      }
    }
    expect(records.size, "each series recorded once").toBe(rules.filter((r) => r.record).length);
  });

  it("judges each tier's burn rate against the objectives the monitor exports from the config, none written here", () => {
    const objective = records.get("tiermesh:monitor_slo_objective:leader")!;
    expect(selectorsOf(objective.expr).map((s) => s.metric)).toContain("tiermesh_monitor_slo_objective");
    const burns = rules.filter((r) => r.alert === "TiermeshErrorBudgetBurn");
    expect(burns.length).toBeGreaterThanOrEqual(2);
    const windows: string[] = [];
    for (const alert of burns) {
      // Two windows of one burn rate: `long > F and short > F`, the short a twelfth of the long.
      const m = /^tiermesh:monitor_sli_burn_rate:rate(\w+) > ([\d.]+) and tiermesh:monitor_sli_burn_rate:rate(\w+) > ([\d.]+)$/.exec(
        alert.expr.trim(),
      );
      expect(m, alert.expr).not.toBeNull();
      const [, long, factor, short, again] = m!;
      expect(factor).toBe(again);
      expect(seconds(long!) / seconds(short!), alert.expr).toBe(12);
      expect(alert.labels?.["window"]).toBe(long);
      windows.push(long!);
      for (const w of [long!, short!]) {
        const burn = records.get(`tiermesh:monitor_sli_burn_rate:rate${w}`)!;
        expect(burn.expr).toBe(`tiermesh:monitor_sli_error_ratio:rate${w} / on (tier, sli) (1 - tiermesh:monitor_slo_objective:leader)`);
        const ratio = records.get(`tiermesh:monitor_sli_error_ratio:rate${w}`)!;
        expect(ratio.expr).toContain(`rate(tiermesh_monitor_sli_bad_events_total[${w}])`);
        expect(ratio.expr).toContain(`rate(tiermesh_monitor_sli_events_total[${w}])`);
      }
    }
    // The SRE workbook's page windows are there.
    expect(windows).toEqual(expect.arrayContaining(["1h", "6h"]));
    // No objective is written into a burn-rate rule: numbers there are windows and factors only.
    for (const r of rules.filter((r) => r.record?.startsWith("tiermesh:monitor_sli_"))) expect(r.expr, r.record).not.toMatch(/\b0\.\d+/);
  });
});

function seconds(duration: string): number {
  const unit = { m: 60, h: 3_600, d: 86_400 }[duration.slice(-1)];
  if (!unit) throw new Error(`unexpected window ${duration}`);
  return Number(duration.slice(0, -1)) * unit;
}

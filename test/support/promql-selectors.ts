import { parser } from "@prometheus-io/lezer-promql";

/** A series selector in a PromQL expression: the metric name and the labels it matches on. */
export interface Selector {
  metric: string;
  labels: string[];
}

/** Grafana's variables, replaced by values PromQL accepts so a dashboard query parses. */
const GRAFANA_VARIABLES: [RegExp, string][] = [
  [/\$__rate_interval|\$__interval|\$__range/g, "5m"],
  [/\$\{?tier\}?/g, ".*"],
];

export function withoutGrafanaVariables(expr: string): string {
  return GRAFANA_VARIABLES.reduce((e, [pattern, value]) => e.replace(pattern, value), expr);
}

/**
 * The series selectors of a PromQL expression, with Prometheus's own grammar
 * (@prometheus-io/lezer-promql, the one the Prometheus UI uses). Throws on a syntax error.
 */
export function selectorsOf(expr: string): Selector[] {
  const tree = parser.parse(expr);
  const selectors: Selector[] = [];
  let error: number | undefined;
  let current: Selector | undefined;
  tree.iterate({
    enter(node) {
      if (node.type.isError) error ??= node.from;
      if (node.name === "VectorSelector") {
        current = { metric: "", labels: [] };
        selectors.push(current);
      } else if (current && node.name === "Identifier") {
        current.metric = expr.slice(node.from, node.to);
      } else if (current && node.name === "LabelName") {
        current.labels.push(expr.slice(node.from, node.to));
      }
    },
    leave(node) {
      if (node.name === "VectorSelector") current = undefined;
    },
  });
  if (error !== undefined) throw new Error(`PromQL syntax error at ${error}: ${expr.slice(Math.max(0, error - 30), error + 30)}`);
  return selectors;
}

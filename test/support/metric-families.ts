/** One metric family of a Prometheus text exposition: its type and the labels its samples carry. */
export interface MetricFamily {
  type: string;
  labels: Set<string>;
}

/** Series names a family's samples take, by its type. */
function seriesNames(name: string, type: string): string[] {
  if (type === "histogram") return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === "summary") return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * The series names a /metrics page exposes, each with its family's type and the label names
 * seen on its samples (none when the family has no sample yet).
 */
export function parseExposition(text: string, into = new Map<string, MetricFamily>()): Map<string, MetricFamily> {
  for (const line of text.split("\n")) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      for (const series of seriesNames(type[1]!, type[2]!)) if (!into.has(series)) into.set(series, { type: type[2]!, labels: new Set() });
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? /.exec(line);
    if (!sample) continue;
    const family = into.get(sample[1]!);
    for (const [, label] of (sample[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) family?.labels.add(label!);
  }
  return into;
}

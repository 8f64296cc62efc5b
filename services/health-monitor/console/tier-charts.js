// The charts of the last minutes, one uPlot per measure, one line per tier.
import { ms, pct, perSecond, tierColour, usd } from "./format.js";

const HISTORY_POINTS = 300;
const HEIGHT = 170;

const percent = (v) => (v === null ? null : v * 100);

/**
 * What each chart shows. `lines(tier)` gives its series for one tier: a label suffix, how to
 * read a point of that tier, and a dash pattern. `extra` adds series not per tier.
 */
const CHARTS = [
  {
    id: "ttft",
    title: "Time to first token, p95 (solid) and p99 (dashed)",
    format: ms,
    lines: [
      { suffix: " p95", read: (p) => p.ttftP95Ms },
      { suffix: " p99", read: (p) => p.ttftP99Ms, dash: [6, 4] },
    ],
  },
  { id: "latency", title: "Latency, p95", format: ms, lines: [{ suffix: "", read: (p) => p.latencyP95Ms }] },
  {
    id: "errors",
    title: "Error rate (errors and timeouts)",
    format: (v) => pct(v === null ? null : v / 100),
    percent: true,
    lines: [{ suffix: "", read: (p) => percent(p.errorRate) }],
  },
  {
    id: "timeouts",
    title: "Timeout rate",
    format: (v) => pct(v === null ? null : v / 100),
    percent: true,
    lines: [{ suffix: "", read: (p) => percent(p.timeoutRate) }],
  },
  {
    id: "rate-limited",
    title: "429 rate",
    format: (v) => pct(v === null ? null : v / 100),
    percent: true,
    lines: [{ suffix: "", read: (p) => percent(p.rateLimitedRate) }],
  },
  {
    id: "served",
    title: "Answers per second by serving tier; promotions and fallbacks",
    format: perSecond,
    lines: [{ suffix: "", read: (p) => p.servedPerSecond }],
    extra: [
      { label: "promotions", read: (point) => point.promotionsPerSecond, colour: "#8A63D2", dash: [2, 3] },
      { label: "fallbacks", read: (point) => point.fallbacksPerSecond, colour: "#CC3311", dash: [8, 3] },
    ],
  },
  { id: "cost", title: "Cost per minute", format: usd, lines: [{ suffix: "", read: (p) => p.costUsdPerMinute }] },
];

const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

export class TierCharts {
  constructor(container) {
    this.container = container;
    this.points = [];
    this.tiers = [];
    this.plots = [];
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(container);
  }

  /** Rebuilds every chart for these tiers from a snapshot's points. */
  reset(tierNames, points) {
    for (const { plot } of this.plots) plot.destroy();
    this.container.replaceChildren();
    this.tiers = tierNames;
    this.points = points.slice(-HISTORY_POINTS);
    this.plots = CHARTS.map((chart) => this.create(chart));
    this.draw();
  }

  /** Adds one second. */
  add(point) {
    const last = this.points[this.points.length - 1];
    if (last && point.t <= last.t) return;
    this.points.push(point);
    if (this.points.length > HISTORY_POINTS) this.points.shift();
    this.draw();
  }

  draw() {
    const xs = this.points.map((p) => p.t);
    for (const { chart, plot } of this.plots) {
      const data = [xs];
      for (const tier of this.tiers) {
        for (const line of chart.lines) data.push(this.points.map((p) => (p.tiers[tier] ? line.read(p.tiers[tier]) : null)));
      }
      for (const extra of chart.extra ?? []) data.push(this.points.map(extra.read));
      plot.setData(data);
    }
  }

  fit() {
    for (const { figure, plot } of this.plots) plot.setSize({ width: figure.clientWidth, height: HEIGHT });
  }

  create(chart) {
    const figure = document.createElement("figure");
    figure.className = "chart";
    figure.dataset.chart = chart.id;
    const caption = document.createElement("figcaption");
    caption.textContent = chart.title;
    figure.append(caption);
    this.container.append(figure);
    const value = (_u, v) => (v === null || v === undefined ? "–" : chart.format(v));
    const series = [{}];
    this.tiers.forEach((tier, i) => {
      for (const line of chart.lines) {
        series.push({
          label: tier + line.suffix,
          stroke: tierColour(i),
          width: 2,
          dash: line.dash,
          value,
          spanGaps: false,
          points: { show: false },
        });
      }
    });
    for (const extra of chart.extra ?? [])
      series.push({ label: extra.label, stroke: extra.colour, width: 1.5, dash: extra.dash, value, points: { show: false } });
    const axisColour = cssVar("--muted") || "#666";
    const gridColour = cssVar("--grid") || "rgba(0,0,0,0.08)";
    const axis = { stroke: axisColour, grid: { stroke: gridColour, width: 1 }, ticks: { stroke: gridColour, width: 1 } };
    const plot = new globalThis.uPlot(
      {
        width: figure.clientWidth || 400,
        height: HEIGHT,
        series,
        scales: { y: { range: (_u, _min, max) => [0, chart.percent ? Math.max(5, Math.min(100, max * 1.1)) : Math.max(max * 1.1, 1e-9)] } },
        axes: [axis, { ...axis, size: 60, values: (_u, ticks) => ticks.map((t) => (t === 0 ? "0" : chart.format(t))) }],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
      },
      [[]],
      figure,
    );
    // The drawing is an image to assistive technology; the legend below it stays readable.
    const drawing = plot.root.querySelector(".u-wrap");
    drawing.setAttribute("role", "img");
    drawing.setAttribute(
      "aria-label",
      `${chart.title}, last ${Math.round(HISTORY_POINTS / 60)} minutes, one line per tier; the tier cards above give the current figures`,
    );
    return { chart, figure, plot };
  }
}

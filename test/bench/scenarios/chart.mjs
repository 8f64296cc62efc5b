// The chart, written as an SVG string: per policy, gold's SLO attainment, share served at
// the entitled tier and cost relative to all-premium (bars), and gold's SLO attainment
// over time with the incidents shaded (lines). No dependency: it is a few rectangles.

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const policyColor = { dynamic: "#1b7f3b", static: "#d95f02", "all-premium": "#7570b3", "all-cheapest": "#737373" };

export function renderChart({ results, meta }) {
  const names = Object.keys(results);
  const W = 980;
  const H = 660;
  const out = [];
  const text = (x, y, s, attrs = "") => out.push(`<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" ${attrs}>${esc(s)}</text>`);
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${W}" height="${H}" fill="#fff"/>`);
  text(
    20,
    28,
    `tiermesh scenario bench, ${meta.date}: ${meta.requests} requests over ${meta.seconds} s per policy, same trace and incidents`,
    'font-size="16" font-weight="bold"',
  );

  // Panel 1: one small bar chart per measure, each on its own scale with its target.
  const prem = results["all-premium"]?.summary.all.costPer1k;
  const measures = [
    {
      title: "gold requests meeting gold's TTFT SLO",
      value: (r) => r.summary.gold.sloMet,
      target: 0.995,
      targetLabel: "target ≥ 99.5%",
      zoom: true,
      digits: 2,
    },
    { title: "requests served at their entitled tier", value: (r) => r.summary.all.atEntitled, digits: 1 },
    {
      title: "cost per 1k requests vs all-premium",
      value: (r) => (prem ? r.summary.all.costPer1k / prem : NaN),
      target: 0.5,
      targetLabel: "target ≤ 50%",
      digits: 0,
    },
  ];
  const y0 = 100;
  const ph = 220;
  const panelW = (W - 40) / measures.length;
  measures.forEach((m, mi) => {
    const px = 20 + mi * panelW + 44;
    const pw = panelW - 64;
    const values = names.map((n) => m.value(results[n]));
    const finite = values.filter(Number.isFinite);
    // The SLO panel is zoomed onto the range that matters, so 98.6% and 99.8% do not look alike.
    const lo = m.zoom ? Math.min(0.95, Math.floor(Math.min(...finite, 1) * 20) / 20) : 0;
    const y = (v) => y0 + ph - ((Math.min(1, Math.max(lo, v)) - lo) / (1 - lo)) * ph;
    text(px + pw / 2, y0 - 30, m.title, 'text-anchor="middle" font-size="13" font-weight="bold"');
    for (let k = 0; k <= 4; k++) {
      const v = lo + ((1 - lo) * k) / 4;
      out.push(`<line x1="${px}" x2="${px + pw}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e5e5e5"/>`);
      text(px - 6, y(v) + 4, `${(v * 100).toFixed(lo > 0 ? 1 : 0)}%`, 'text-anchor="end" fill="#555" font-size="11"');
    }
    const slot = pw / names.length;
    const bw = Math.min(44, slot - 12);
    names.forEach((n, i) => {
      const v = values[i];
      const bx = px + i * slot + (slot - bw) / 2;
      if (Number.isFinite(v)) {
        out.push(
          `<rect x="${bx.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(y0 + ph - y(v)).toFixed(1)}" fill="${policyColor[n] ?? "#000"}"/>`,
        );
        text(bx + bw / 2, y(v) - 5, `${(v * 100).toFixed(m.digits)}%`, 'text-anchor="middle" font-size="11" font-weight="bold"');
      }
      const [first, ...rest] = n.split("-");
      text(bx + bw / 2, y0 + ph + 15, rest.length ? `${first}-` : first, 'text-anchor="middle" font-size="10.5"');
      if (rest.length) text(bx + bw / 2, y0 + ph + 28, rest.join("-"), 'text-anchor="middle" font-size="10.5"');
    });
    out.push(`<line x1="${px}" x2="${px + pw}" y1="${y0 + ph}" y2="${y0 + ph}" stroke="#333"/>`);
    if (m.target !== undefined) {
      out.push(
        `<line x1="${px}" x2="${px + pw}" y1="${y(m.target).toFixed(1)}" y2="${y(m.target).toFixed(1)}" stroke="#b30000" stroke-dasharray="5,4"/>`,
      );
      text(px + pw, y(m.target) + (m.zoom ? 13 : -4), m.targetLabel, 'text-anchor="end" fill="#b30000" font-size="10.5"');
    }
  });

  // Panel 2: gold SLO attainment over time.
  const x0 = 64;
  const pw = W - x0 - 150;
  const ty0 = 420;
  const th = 180;
  const series = names.map((n) => ({ n, pts: results[n].goldTimeline.filter((b) => b.sloMet !== null) }));
  const all = series.flatMap((s) => s.pts.map((p) => p.sloMet));
  const lo = Math.max(0, Math.floor(Math.min(0.9, ...all) * 10) / 10);
  const endMs = meta.seconds * 1_000;
  const tx = (ms) => x0 + (ms / endMs) * pw;
  const ty = (v) => ty0 + th - ((v - lo) / (1 - lo)) * th;
  text(
    x0,
    ty0 - 22,
    `gold requests meeting gold's TTFT SLO (${results[names[0]].bucketSeconds} s buckets by start time); incidents shaded`,
    'font-size="13" font-weight="bold"',
  );
  for (const inc of results[names[0]].incidents) {
    out.push(
      `<rect x="${tx(inc.appliedMs).toFixed(1)}" y="${ty0}" width="${(tx(inc.revertedMs) - tx(inc.appliedMs)).toFixed(1)}" height="${th}" fill="#f2e6d9"/>`,
    );
    text((tx(inc.appliedMs) + tx(inc.revertedMs)) / 2, ty0 - 6, inc.label, 'text-anchor="middle" font-size="10" fill="#6b4c2a"');
  }
  for (let k = 0; k <= 4; k++) {
    const v = lo + ((1 - lo) * k) / 4;
    out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${ty(v)}" y2="${ty(v)}" stroke="#e5e5e5"/>`);
    text(x0 - 8, ty(v) + 4, `${(v * 100).toFixed(0)}%`, 'text-anchor="end" fill="#555"');
  }
  out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${ty(0.995)}" y2="${ty(0.995)}" stroke="#b30000" stroke-dasharray="5,4"/>`);
  for (let s = 0; s <= meta.seconds; s += meta.seconds > 60 ? 15 : 10) {
    text(tx(s * 1_000), ty0 + th + 16, `${s} s`, 'text-anchor="middle" fill="#555" font-size="11"');
  }
  out.push(`<line x1="${x0}" x2="${x0 + pw}" y1="${ty0 + th}" y2="${ty0 + th}" stroke="#333"/>`);
  const bucketMs = results[names[0]].bucketSeconds * 1_000;
  for (const s of series) {
    const d = s.pts.map((p, i) => `${i ? "L" : "M"}${tx(p.atMs + bucketMs / 2).toFixed(1)},${ty(p.sloMet).toFixed(1)}`).join(" ");
    out.push(`<path d="${d}" fill="none" stroke="${policyColor[s.n] ?? "#000"}" stroke-width="${s.n === "dynamic" ? 2.5 : 1.5}"/>`);
  }
  series.forEach((s, i) => {
    const ly = ty0 + 20 + i * 20;
    out.push(
      `<line x1="${x0 + pw + 6}" x2="${x0 + pw + 26}" y1="${ly}" y2="${ly}" stroke="${policyColor[s.n] ?? "#000"}" stroke-width="3"/>`,
    );
    text(x0 + pw + 32, ly + 4, s.n, 'font-size="11"');
  });
  text(
    20,
    H - 12,
    "Measured by test/bench/scenarios.mjs; every figure is computed from the recorded requests.",
    'font-size="10" fill="#777"',
  );
  out.push("</svg>");
  return out.join("\n");
}

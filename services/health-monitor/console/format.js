// Number and time formatting for the console; every figure on the page goes through here.

/** Milliseconds: "87 ms", "1.25 s"; "–" for nothing measured. */
export function ms(value) {
  if (value === null || value === undefined || value <= 0) return "–";
  return value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(value < 10_000 ? 2 : 1)} s`;
}

/** A ratio as a percentage: "0%", "2.4%", "100%". */
export function pct(ratio) {
  if (ratio === null || ratio === undefined) return "–";
  const p = ratio * 100;
  if (p === 0) return "0%";
  if (p < 0.1) return "<0.1%";
  return `${p < 10 ? p.toFixed(1) : Math.round(p)}%`;
}

/** A rate per second: "12/s", "0.4/s". */
export function perSecond(value) {
  if (!value) return "0/s";
  return `${value < 10 ? value.toFixed(1) : Math.round(value)}/s`;
}

/** US dollars, with cents or finer where small: "$0.0042", "$1.23". */
export function usd(value) {
  if (!value) return "$0";
  if (value < 0.01) return `$${value.toPrecision(2)}`;
  return `$${value.toFixed(2)}`;
}

/** How long ago or for how long: "12 s", "4 min", "2 h". */
export function duration(msSpan) {
  const s = Math.max(0, Math.round(msSpan / 1000));
  if (s < 90) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} min`;
  return `${Math.round(m / 60)} h`;
}

/** Local wall-clock time with seconds. */
export function clock(epochMs) {
  return new Date(epochMs).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

/** Colours per tier, by rank order (Okabe–Ito: told apart with the common colour-vision deficiencies). */
const PALETTE = ["#E69F00", "#0072B2", "#009E73", "#CC79A7", "#D55E00", "#56B4E9"];

export function tierColour(index) {
  return PALETTE[index % PALETTE.length];
}

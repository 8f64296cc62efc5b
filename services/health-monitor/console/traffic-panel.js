// The requested-vs-served split: totals and one row per (requested, served) pair.
import { pct, perSecond, usd } from "./format.js";

const MOVES = { own: "–", promotion: "promoted ↑", fallback: "fell back ↓" };

export class TrafficPanel {
  constructor(doc) {
    this.rows = doc.getElementById("flows");
    this.served = doc.getElementById("served-total");
    this.promotions = doc.getElementById("promotions-total");
    this.fallbacks = doc.getElementById("fallbacks-total");
    this.cost = doc.getElementById("cost-total");
    this.window = doc.getElementById("traffic-window");
  }

  update(traffic) {
    const total = traffic.servedPerSecond;
    const share = (n) => (total > 0 ? ` (${pct(n / total)})` : "");
    this.served.textContent = perSecond(total);
    this.promotions.textContent = perSecond(traffic.promotionsPerSecond) + share(traffic.promotionsPerSecond);
    this.fallbacks.textContent = perSecond(traffic.fallbacksPerSecond) + share(traffic.fallbacksPerSecond);
    this.cost.textContent = `${usd(traffic.costUsdPerMinute)}/min`;
    this.window.textContent = String(Math.round(traffic.windowMs / 1000));
    if (traffic.flows.length === 0) {
      const row = document.createElement("tr");
      const cell = document.createElement("td");
      cell.colSpan = 5;
      cell.className = "muted";
      cell.textContent = "No user traffic in the window.";
      row.append(cell);
      this.rows.replaceChildren(row);
      return;
    }
    this.rows.replaceChildren(
      ...traffic.flows.map((f) => {
        const row = document.createElement("tr");
        row.dataset.kind = f.kind;
        for (const [text, numeric] of [
          [f.requested, false],
          [f.served, false],
          [MOVES[f.kind], false],
          [perSecond(f.perSecond), true],
          [pct(total > 0 ? f.perSecond / total : 0), true],
        ]) {
          const cell = document.createElement("td");
          cell.textContent = text;
          if (numeric) cell.className = "num";
          row.append(cell);
        }
        return row;
      }),
    );
  }
}

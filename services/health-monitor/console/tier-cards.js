// One card per tier: its state and why, since when and whose word, and its figures.
import { duration, ms, pct, perSecond, tierColour, usd } from "./format.js";

const FIGURES = [
  ["ttft", "TTFT p50 / p95 / p99", (t) => `${ms(t.sli.ttftP50Ms)} / ${ms(t.sli.ttftP95Ms)} / ${ms(t.sli.ttftP99Ms)}`],
  ["latency", "Latency p95", (t) => ms(t.sli.latencyP95Ms)],
  ["errors", "Errors (incl. timeouts)", (t) => pct(t.sli.sampleCount ? t.sli.errorRate : null)],
  ["timeouts", "Timeouts", (t) => pct(t.sli.sampleCount ? t.sli.timeoutRate : null)],
  ["rate-limited", "429s", (t) => pct(t.sli.sampleCount ? t.sli.rateLimitedRate : null)],
  ["served", "Served", (t) => perSecond(t.servedPerSecond)],
  ["cost", "Cost / min", (t) => usd(t.costUsdPerMinute)],
  [
    "load",
    "In flight / capacity",
    (t) =>
      t.sli.executors
        ? `${t.sli.inFlight} / ${t.sli.capacity}${t.sli.queued ? ` (+${t.sli.queued} queued)` : ""}`
        : "no executor reporting",
  ],
];

const el = (tag, className, text) => {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
};

export class TierCards {
  constructor(container) {
    this.container = container;
    this.cards = new Map();
  }

  /** Replaces every card (a snapshot: tiers may have changed). */
  reset(tiers, now) {
    this.container.replaceChildren();
    this.cards.clear();
    tiers.forEach((tier, index) => {
      const card = this.create(tier, index);
      this.cards.set(tier.tier, card);
      this.container.append(card.root);
      this.update(tier, now);
    });
  }

  /** Updates the cards of the given tiers in place. */
  updateAll(tiers, now) {
    for (const tier of tiers) this.update(tier, now);
  }

  update(tier, now) {
    const card = this.cards.get(tier.tier);
    if (!card) return;
    card.root.dataset.state = tier.state;
    card.state.textContent = tier.state;
    card.reason.textContent = tier.reason;
    const since = tier.sinceMs > 0 ? `for ${duration(now - tier.sinceMs)}` : "";
    const whose =
      tier.source === "published"
        ? tier.monitorId
          ? `published by ${tier.monitorId}`
          : ""
        : `this replica's view (${tier.monitorId}): nothing published lately`;
    card.since.textContent = [since, whose].filter(Boolean).join(" · ");
    for (const [key, , value] of FIGURES) card.figures.get(key).textContent = value(tier);
    const slow = tier.sli.ttftP95Ms > tier.sloTtftP95Ms;
    card.figures.get("ttft").classList.toggle("over", slow);
    card.figures.get("ttft").title = `SLO: TTFT p95 within ${ms(tier.sloTtftP95Ms)}`;
  }

  create(tier, index) {
    const root = el("article", "tier");
    root.dataset.tier = tier.tier;
    const nameId = `tier-${tier.tier}-name`;
    root.setAttribute("aria-labelledby", nameId);
    const head = el("header", "tier-head");
    const name = el("h3", "tier-name");
    name.id = nameId;
    const swatch = el("span", "swatch");
    swatch.style.background = tierColour(index);
    swatch.setAttribute("aria-hidden", "true");
    name.append(swatch, document.createTextNode(tier.tier), el("span", "rank muted", ` rank ${tier.rank}`));
    const state = el("p", "state");
    state.dataset.role = "state";
    head.append(name, state);
    const reason = el("p", "reason");
    const since = el("p", "since muted");
    const list = el("dl", "figures");
    const figures = new Map();
    for (const [key, label] of FIGURES) {
      const row = el("div");
      const value = el("dd");
      row.append(el("dt", "", label), value);
      list.append(row);
      figures.set(key, value);
    }
    root.append(head, reason, since, list);
    return { root, state, reason, since, figures };
  }
}

// The timeline of state changes, newest first.
import { clock } from "./format.js";

const MAX_SHOWN = 100;

export class StatusTimeline {
  constructor(list) {
    this.list = list;
  }

  reset(entries) {
    this.list.replaceChildren();
    if (entries.length === 0) {
      const empty = document.createElement("li");
      empty.className = "muted empty";
      empty.textContent = "No state changes yet.";
      this.list.append(empty);
      return;
    }
    for (const entry of entries.slice(-MAX_SHOWN)) this.add(entry);
  }

  add(entry) {
    this.list.querySelector(".empty")?.remove();
    const item = document.createElement("li");
    item.dataset.tier = entry.tier;
    item.dataset.state = entry.to;
    const time = document.createElement("time");
    time.dateTime = new Date(entry.atMs).toISOString();
    time.textContent = clock(entry.atMs);
    const what = document.createElement("span");
    what.className = "change";
    const to = document.createElement("strong");
    to.className = "to";
    to.textContent = entry.to;
    // The first status heard of a tier is where the timeline starts, not a change.
    what.append(document.createTextNode(entry.from === "UNKNOWN" ? `${entry.tier}: first heard ` : `${entry.tier}: ${entry.from} → `), to);
    const why = document.createElement("span");
    why.className = "why";
    why.textContent = entry.reason + (entry.source === "local" ? " (this replica's view)" : "");
    item.append(time, what, why);
    this.list.prepend(item);
    while (this.list.children.length > MAX_SHOWN) this.list.lastElementChild.remove();
  }
}

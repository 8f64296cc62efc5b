// The tier console: follows the monitor's event stream and keeps every panel current.
import { clock } from "./format.js";
import { StatusTimeline } from "./status-timeline.js";
import { TierCards } from "./tier-cards.js";
import { TierCharts } from "./tier-charts.js";
import { TrafficPanel } from "./traffic-panel.js";

const $ = (id) => document.getElementById(id);

const cards = new TierCards($("tiers"));
const traffic = new TrafficPanel(document);
const charts = new TierCharts($("charts"));
const timeline = new StatusTimeline($("timeline"));
const feed = $("feed");
const announce = $("announce");

/** The server's clock minus ours, so "for 12 s" is right even when the two disagree. */
let skewMs = 0;

function header(data) {
  skewMs = data.atMs - Date.now();
  $("role").textContent = data.leading ? "leading (publishes status)" : "following";
  $("nats").textContent = data.natsConnected ? "connected" : "unreachable";
  $("nats").dataset.ok = String(data.natsConnected);
  $("updated").textContent = clock(data.atMs);
}

function setFeed(state, text) {
  feed.dataset.feed = state;
  feed.textContent = text;
}

function onSnapshot(snap) {
  header(snap);
  $("monitor").textContent = snap.monitorId;
  // A snapshot (first connect or reconnect) rebuilds every panel: the tiers may have changed.
  cards.reset(snap.tiers, snap.atMs);
  traffic.update(snap.traffic);
  timeline.reset(snap.timeline);
  charts.reset(
    snap.tiers.map((t) => t.tier),
    snap.series,
  );
  setFeed("live", "Live");
}

function onTick(tick) {
  header(tick);
  cards.updateAll(tick.tiers, tick.atMs);
  traffic.update(tick.traffic);
  charts.add(tick.point);
}

function onStatus({ tier, entry }) {
  cards.update(tier, Date.now() + skewMs);
  timeline.add(entry);
  announce.textContent = `${entry.tier} is ${entry.to}: ${entry.reason}`;
}

function connect() {
  const source = new EventSource("events");
  const on = (name, handle) => source.addEventListener(name, (e) => handle(JSON.parse(e.data)));
  on("snapshot", onSnapshot);
  on("tick", onTick);
  on("status", onStatus);
  // The browser reconnects by itself (the server asks for 1 s); the next snapshot refills everything.
  source.addEventListener("error", () => setFeed("reconnecting", "Reconnecting…"));
}

connect();

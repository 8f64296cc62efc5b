// The markdown report: targets with measured values, a table per policy × tier, one per
// incident, and the tier-state changes the monitor published.
import { policyLabels } from "./policies.mjs";

const p1 = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "—");
const p2 = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(2)}%` : "—");
const usd = (x) => (Number.isFinite(x) ? `$${x.toFixed(3)}` : "—");
const at = (t) => (t < 500 ? "start" : `${(t / 1_000).toFixed(1)} s`);
const ms = (x) =>
  x === null || x === undefined || !Number.isFinite(x) ? "—" : x < 1_000 ? `${Math.round(x)} ms` : `${(x / 1_000).toFixed(1)} s`;

/** The targets, evaluated from the aggregates (missing policies: not evaluated). */
export function evaluateTargets(results) {
  const d = results.dynamic;
  const s = results.static;
  const prem = results["all-premium"];
  const out = [];
  const add = (target, measured, pass) => out.push({ target, measured, pass });
  if (d) {
    const g = d.summary.gold.sloMet;
    add("tiermesh meets gold's TTFT SLO on ≥ 99.5% of gold requests (whole trace, every incident)", p2(g), g >= 0.995);
    for (const inc of d.goldPerIncident) {
      if (inc.requests === 0) continue;
      const label = d.incidents.find((x) => x.id === inc.id)?.label ?? inc.id;
      add(`  … gold requests started during "${label}"`, `${p2(inc.sloMet)} of ${inc.requests}`, inc.sloMet >= 0.995);
    }
  }
  if (d && s) {
    add(
      "beats static fallback on gold SLO attainment",
      `${p2(d.summary.gold.sloMet)} vs ${p2(s.summary.gold.sloMet)}`,
      d.summary.gold.sloMet > s.summary.gold.sloMet,
    );
    add(
      "beats static fallback on share served at the entitled tier (all requests)",
      `${p2(d.summary.all.atEntitled)} vs ${p2(s.summary.all.atEntitled)}`,
      d.summary.all.atEntitled > s.summary.all.atEntitled,
    );
  }
  if (d && prem) {
    const ratio = d.summary.all.costPer1k / prem.summary.all.costPer1k;
    add(
      "costs ≤ 50% of all-premium on the same trace",
      `${usd(d.summary.all.costPer1k)} vs ${usd(prem.summary.all.costPer1k)} per 1k requests (${p1(ratio)})`,
      ratio <= 0.5,
    );
  }
  return out;
}

function perTierRows(name, r) {
  const rows = [];
  for (const [tier, m] of Object.entries(r.summary)) {
    const incs = tier === "all" ? [] : r.incidents.filter((i) => i.tier === tier);
    const reroute = incs.map((i) => `${i.id}: ${i.rerouteMs === null ? i.rerouteHow : ms(i.rerouteMs)}`).join("; ") || "—";
    const back =
      incs
        .map(
          (i) =>
            `${i.id}: ${i.returnNote === "never moved" ? "never moved" : `${ms(i.returnFirstMs)} / ${i.returnLastMs === null ? i.returnNote : ms(i.returnLastMs)}`}`,
        )
        .join("; ") || "—";
    rows.push(
      `| ${tier === "all" ? `**${name}**` : name} | ${tier === "all" ? "**all**" : tier} | ${m.requests} | ${p2(m.sloMet)} | ${p1(m.atEntitled)} | ${p1(m.belowEntitled)} | ${m.failed} | ${usd(m.costPer1k)} | ${ms(m.ttftP50Ms)} / ${ms(m.ttftP99Ms)} | ${Number.isFinite(m.tierChangesPerUser) ? m.tierChangesPerUser.toFixed(2) : "—"} | ${reroute} | ${back} |`,
    );
  }
  return rows;
}

function incidentRows(name, r) {
  return r.incidents.map(
    (i) =>
      `| ${name} | ${i.label} | ${i.tier} | ${i.requests} | ${p1(i.sloMet)} | ${p1(i.servedElsewhere)} | ${i.failed} | ${i.rerouteMs === null ? i.rerouteHow : `${ms(i.rerouteMs)} (${i.rerouteHow})`} | ${i.returnNote === "never moved" ? "never moved" : `${ms(i.returnFirstMs)} / ${i.returnLastMs === null ? i.returnNote : ms(i.returnLastMs)}`} |`,
  );
}

export function renderMarkdown({ meta, results, targets, facts }) {
  const names = Object.keys(results);
  const lines = [];
  lines.push(`# Scenario bench: ${meta.date}`, "");
  lines.push(
    `One trace of ${meta.requests} requests over ${meta.seconds} s (seed ${meta.seed}; ${meta.tenants}; interactive and batch; ` +
      `${meta.low}→${meta.peak}→${meta.low} req/s daily shape) through the real mesh (all services as processes, private nats-server, simulated provider), ` +
      `under ${names.length} policies, with the same scripted incidents. Gold is served by two deployments, primary (weight 4) and secondary (weight 1); only the primary faults.`,
    "",
    `Machine: ${meta.machine}; 1-min load average during the runs: ${names
      .map((n) => `${n} ${results[n].load.mean.toFixed(1)} (max ${results[n].load.max.toFixed(1)})`)
      .join(
        ", ",
      )}. Commit ${meta.commit}. Bench took ${meta.tookMinutes} min.${meta.quick ? " **Quick mode: a short trace, for development only.**" : ""}`,
    "",
  );
  if (meta.notes.length) lines.push(...meta.notes.map((n) => `> ${n}`), "");
  lines.push("## Targets", "", "| target | measured | result |", "| --- | --- | --- |");
  for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.pass ? "PASS" : "**FAIL**"} |`);
  lines.push("");
  lines.push("## Per policy and tier", "");
  lines.push(
    `Tier = the tier the request is entitled to under the production rules. TTFT SLOs: ${Object.entries(facts)
      .map(([t, f]) => `${t} ${f.sloMs} ms`)
      .join(", ")} (client-observed time to first streamed token; a failed request misses it).`,
    "",
    "| policy | tier | requests | TTFT SLO met | at entitled tier | below entitled | failed | cost / 1k req | TTFT p50 / p99 | tier changes / user | time to reroute | time to return (first / last) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  );
  for (const n of names) lines.push(...perTierRows(n, results[n]));
  lines.push("", "## Incidents", "");
  lines.push(
    "Requests the policy classifies to the incident's tier, started during the incident. Reroute: incident start → first such request served by another tier, or the first of 5 in a row meeting the tier's SLO again, whichever comes first (\"no impact\": none missed the SLO or moved; for an incident that only grazes a tier this time is set by a few slow requests and is noisy). Return: incident end → first and last such request served by its tier again, when some were moved during the incident (measured until the next incident on that tier, or the end of the trace).",
    "",
    "| policy | incident | tier | requests | SLO met | served elsewhere | failed | time to reroute | time to return (first / last) |",
    "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
  );
  for (const n of names) lines.push(...incidentRows(n, results[n]));
  lines.push("", "## Schedule", "");
  const any = results[names[0]];
  lines.push(
    any.incidents.map((i) => `${i.label} ${(i.appliedMs / 1_000).toFixed(0)}–${(i.revertedMs / 1_000).toFixed(0)} s`).join(" · "),
    "",
  );
  lines.push("## Tier states published by the health monitor", "");
  for (const n of names) {
    const ch = results[n].stateChanges;
    if (!results[n].healthMonitor) {
      lines.push(`- **${n}**: no health monitor (passive breaker only)`);
      continue;
    }
    const shown = ch.filter((c) => c.atMs <= meta.seconds * 1_000);
    lines.push(
      `- **${n}**: ${shown.length ? shown.map((c) => `${at(c.atMs)} ${c.tier} ${c.state.toLowerCase()}`).join(", ") : "no changes"}`,
    );
  }
  lines.push("", "## The router's view (sampled from its /metrics every 0.5 s)", "");
  for (const n of names) {
    const shown = (results[n].routerView ?? []).filter((c) => c.atMs <= meta.seconds * 1_000);
    lines.push(`- **${n}**: ${shown.length ? shown.map((c) => `${at(c.atMs)} ${c.what} ${c.value}`).join(", ") : "no changes"}`);
  }
  lines.push("", "## Gold requests that missed gold's SLO", "");
  for (const n of names) {
    const m = results[n].goldMisses;
    lines.push(`- **${n}**: ${m.total}${m.total > m.shown.length ? ` (first ${m.shown.length} shown)` : ""}`);
    for (const x of m.shown) {
      lines.push(
        `  - ${(x.atMs / 1_000).toFixed(1)} s${x.incident ? ` (${x.incident})` : ""}: ${x.outcome}${x.ttftMs === null ? "" : `, TTFT ${ms(x.ttftMs)}`}${x.reason ? `: ${x.reason}` : ""}`,
      );
    }
  }
  lines.push("", "## Why requests were served below their entitled tier (the router's first reason)", "");
  for (const n of names) {
    const b = results[n].belowReasons;
    lines.push(`- **${n}**: ${b.length ? b.map((x) => `${x.n}× ${x.text}`).join("; ") : "none"}`);
  }
  lines.push("", "## Most frequent failures", "");
  for (const n of names) {
    const errs = results[n].counts.errors.slice(0, 4);
    lines.push(`- **${n}**: ${errs.length ? errs.map((e) => `${e.n}× ${e.text}`).join("; ") : "none"}`);
  }
  lines.push("", "Policies:", "");
  for (const n of names) lines.push(`- **${n}** (${policyLabels[n]}): ${results[n].description}`);
  lines.push("");
  return lines.join("\n");
}

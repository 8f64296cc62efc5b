// Aggregates of one policy's run, computed from the per-request records only.

/** Consecutive requests that must meet the SLO for a tier to count as "meeting it again". */
const RUN_OK = 5;

const ok = (r) => r.code === "";
/** Succeeded with a first token within the SLO of the tier the request is entitled to. */
export const meetsSlo = (r, facts) => ok(r) && r.ttftMs <= facts[r.entitled].sloMs;

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Mean number of served-tier changes per end user, over each user's requests of one entitled tier. */
function tierChangesPerUser(records) {
  const byUser = new Map();
  for (const r of records) {
    if (!ok(r)) continue;
    const list = byUser.get(r.user) ?? [];
    list.push(r);
    byUser.set(r.user, list);
  }
  if (byUser.size === 0) return NaN;
  let changes = 0;
  for (const list of byUser.values()) {
    list.sort((a, b) => a.startMs - b.startMs);
    for (let i = 1; i < list.length; i++) if (list[i].served !== list[i - 1].served) changes++;
  }
  return changes / byUser.size;
}

/** Per entitled tier (and "all"): SLO attainment, entitlement, failures, cost, latency, tier changes. */
export function summarize(records, facts) {
  const groups = { ...Object.fromEntries(Object.keys(facts).map((t) => [t, []])), all: [] };
  for (const r of records) {
    groups[r.entitled].push(r);
    groups.all.push(r);
  }
  const out = {};
  for (const [tier, rs] of Object.entries(groups)) {
    const n = rs.length;
    const served = rs.filter(ok);
    const ttft = served.map((r) => r.ttftMs).sort((a, b) => a - b);
    const rank = (t) => facts[t].rank;
    out[tier] = {
      requests: n,
      sloMet: rs.filter((r) => meetsSlo(r, facts)).length / n,
      atEntitled: served.filter((r) => r.served === r.entitled).length / n,
      belowEntitled: served.filter((r) => rank(r.served) < rank(r.entitled)).length / n,
      aboveEntitled: served.filter((r) => rank(r.served) > rank(r.entitled)).length / n,
      failed: n - served.length,
      costPer1k: (rs.reduce((s, r) => s + r.costUsd, 0) / n) * 1_000,
      ttftP50Ms: pct(ttft, 50),
      ttftP99Ms: pct(ttft, 99),
      tierChangesPerUser: tierChangesPerUser(rs),
    };
  }
  return out;
}

/**
 * What one incident did to the requests it hits: those the policy classifies to its tier
 * (`home`; all requests for an incident without a tier). `window`: [start, until) in ms, `until` being the next
 * incident on the same tier or the end of the trace (where return is measured).
 */
export function incidentImpact(records, facts, inc, untilMs) {
  const s = inc.appliedMs;
  const e = inc.revertedMs;
  const hit = records
    .filter((r) => (inc.tier === undefined || r.home === inc.tier) && r.startMs >= s && r.startMs < untilMs)
    .sort((a, b) => a.startMs - b.startMs);
  const home = (r) => r.home;
  const elsewhere = (r) => ok(r) && r.served !== home(r);
  const healthy = (r) => ok(r) && r.ttftMs <= facts[home(r)].sloMs;
  const during = hit.filter((r) => r.startMs < e);
  const n = during.length;
  const result = {
    id: inc.id,
    label: inc.label,
    tier: inc.tier ?? "all",
    requests: n,
    sloMet: n ? during.filter((r) => meetsSlo(r, facts)).length / n : NaN,
    servedElsewhere: n ? during.filter(elsewhere).length / n : NaN,
    failed: during.filter((r) => !ok(r)).length,
    missedSlo: during.filter((r) => !meetsSlo(r, facts)).length,
    rerouteMs: null,
    rerouteHow: n ? "no impact" : "no traffic",
    returnFirstMs: null,
    returnLastMs: null,
    returnNote: "",
  };
  const firstBad = during.find((r) => !healthy(r) || elsewhere(r));
  if (firstBad) {
    const moved = hit.find((r) => elsewhere(r));
    let run = 0;
    let runStart;
    for (const r of hit) {
      if (r.startMs < firstBad.startMs) continue;
      if (healthy(r) && !elsewhere(r)) {
        runStart ??= r;
        if (++run >= RUN_OK) break;
      } else {
        run = 0;
        runStart = undefined;
      }
    }
    if (run < RUN_OK) runStart = undefined;
    const candidates = [
      moved && { at: moved.startMs, how: "served elsewhere" },
      runStart && { at: runStart.startMs, how: "meets SLO again" },
    ].filter(Boolean);
    const first = candidates.sort((a, b) => a.at - b.at)[0];
    result.rerouteMs = first ? Math.max(0, first.at - s) : null;
    result.rerouteHow = first ? first.how : "never";
  }
  const after = hit.filter((r) => r.startMs >= e && ok(r));
  // Only a move during the incident is its doing (a user still held from an earlier one is not).
  if (during.some(elsewhere)) {
    const back = after.find((r) => !elsewhere(r));
    result.returnFirstMs = back ? back.startMs - e : null;
    const lastAway = after.findLast(elsewhere);
    if (!lastAway) {
      result.returnLastMs = result.returnFirstMs;
    } else {
      const next = after.find((r) => r.startMs > lastAway.startMs && !elsewhere(r));
      result.returnLastMs = next ? next.startMs - e : null;
    }
    if (result.returnLastMs === null) result.returnNote = `not all back within ${((untilMs - e) / 1_000).toFixed(0)} s`;
  } else {
    result.returnNote = "never moved";
  }
  return result;
}

/** Each incident's impact, measuring return up to the next incident on the same tier. */
export function incidentImpacts(records, facts, incidents, endMs) {
  return incidents.map((inc, i) => {
    const next = incidents.slice(i + 1).find((o) => o.tier === inc.tier || (o.tier === undefined && inc.tier === undefined));
    return incidentImpact(records, facts, inc, next ? next.appliedMs : endMs);
  });
}

/** Share of `tier`'s requests meeting its SLO per time bucket (by start time). */
export function timeline(records, facts, tier, bucketMs, endMs) {
  const buckets = Array.from({ length: Math.ceil(endMs / bucketMs) }, () => ({ n: 0, met: 0 }));
  for (const r of records) {
    if (r.entitled !== tier) continue;
    const b = buckets[Math.min(buckets.length - 1, Math.max(0, Math.floor(r.startMs / bucketMs)))];
    b.n++;
    if (meetsSlo(r, facts)) b.met++;
  }
  return buckets.map((b, i) => ({ atMs: i * bucketMs, requests: b.n, sloMet: b.n ? b.met / b.n : null }));
}

/** Gold's SLO attainment inside each incident window (requests started during it). */
export function goldPerIncident(records, facts, incidents) {
  return incidents.map((inc) => {
    const rs = records.filter((r) => r.entitled === "gold" && r.startMs >= inc.appliedMs && r.startMs < inc.revertedMs);
    return { id: inc.id, requests: rs.length, sloMet: rs.length ? rs.filter((r) => meetsSlo(r, facts)).length / rs.length : NaN };
  });
}

/** A reason or error with its numbers and times blanked, so they can be counted by kind. */
const kind = (r) =>
  r
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, "T")
    .replace(/#\d+/g, "#")
    .replace(/\d+(\.\d+)?/g, "N")
    .slice(0, 140);

/** Counts of routing reasons and errors, by kind (most frequent first). */
export function reasonCounts(records, limit = 25) {
  const count = (xs) =>
    [...xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map())]
      .sort((a, b) => b[1] - a[1])
      .slice(0, limit)
      .map(([text, n]) => ({ n, text }));
  return {
    reasons: count(records.flatMap((r) => r.reasons.map(kind))),
    errors: count(records.filter((r) => r.code).map((r) => `${r.code} [${r.home}] ${kind(r.error ?? "")}`)),
  };
}

/** Routing reasons given by the router (the classifier's own come first and are left out). */
const policyReasons = (r) => r.reasons.filter((x) => !/^(plan |rule |clamped |tier hint)/.test(x));

/** Why requests were served below their entitled tier: the router's first reason, by kind. */
export function belowReasons(records, facts, limit = 6) {
  const below = records.filter((r) => ok(r) && facts[r.served].rank < facts[r.entitled].rank);
  const counts = new Map();
  for (const r of below) {
    const k = kind(policyReasons(r)[0] ?? "(classified there; no routing decision moved it)");
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([text, n]) => ({ n, text }));
}

/** Gold requests that missed gold's SLO: when, in which incident, how slow, and what the router said. */
export function goldMisses(records, facts, incidents, limit = 12) {
  const misses = records.filter((r) => r.entitled === "gold" && !meetsSlo(r, facts)).sort((a, b) => a.startMs - b.startMs);
  return {
    total: misses.length,
    shown: misses.slice(0, limit).map((r) => ({
      atMs: Math.round(r.startMs),
      incident: incidents.find((i) => r.startMs >= i.appliedMs && r.startMs < i.revertedMs)?.id ?? "",
      ttftMs: ok(r) ? Math.round(r.ttftMs) : null,
      outcome: ok(r)
        ? `served by ${r.served} (${r.model}, ${r.providerAttempts} provider attempt${r.providerAttempts === 1 ? "" : "s"})`
        : r.code,
      reason: (ok(r) ? policyReasons(r).at(-1) : r.error) ?? "",
    })),
  };
}

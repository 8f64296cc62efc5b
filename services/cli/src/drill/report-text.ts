import type { Percentiles, Share } from "./latency-stats.js";
import { phaseNames, type PhaseFigures } from "./report.js";
import type { DrillReport } from "./run-drill.js";
import type { UserTiers } from "./user-changes.js";

/** Users listed one per line in the text report; the JSON has them all. */
const MAX_USER_LINES = 25;

const sec = (ms: number) => `${(ms / 1_000).toFixed(1)} s`;
const offset = (ms: number | null, never: string) => (ms === null ? never : `${ms < 0 ? "-" : "+"}${(Math.abs(ms) / 1_000).toFixed(2)} s`);
const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);
const p4 = (p: Percentiles | null) => (p === null ? "-" : `${p.p50}/${p.p95}/${p.p99}/${p.max}`);
const share = (s: Share) => `${s.count} (${pct(s.share)})`;
const tiers = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ") || "-";
const errors = (m: Record<string, number>) =>
  Object.entries(m)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => `  ${r.map((c, i) => c.padEnd(widths[i]!)).join("  ")}`.trimEnd());
}

function phaseRow(name: string, p: PhaseFigures): string[] {
  const verdict = p.slo.met === null ? "-" : p.slo.met ? "met" : "MISSED";
  return [
    name,
    `${sec(p.fromMs)}..${sec(p.toMs)}`,
    String(p.sent),
    String(p.failed),
    tiers(p.servedTiers),
    String(p.inRequestFallbacks),
    p4(p.ttftMs),
    p4(p.totalMs),
    share(p.ttftOverSlo),
    share(p.ttftOverTimeout),
    verdict,
  ];
}

/** Tier changes shown per user in the text report. */
const MAX_CHANGES_SHOWN = 6;

function userLine(u: UserTiers): string {
  const shown = u.changes.slice(0, MAX_CHANGES_SHOWN).map((c) => `${c.to} @${offset(c.atMs, "")}`);
  const more =
    u.changes.length > MAX_CHANGES_SHOWN ? [`... ${u.changes.length - MAX_CHANGES_SHOWN} more changes, last to ${u.lastTier}`] : [];
  const path = [u.firstTier || "(no answer)", ...shown, ...more].join(" → ");
  const failed = u.failed > 0 ? `, ${u.failed} failed` : "";
  return `  ${(u.user ?? "(no user id)").padEnd(22)} ${String(u.requests).padStart(4)} req${failed}  ${path}`;
}

/** The drill report as plain text for a terminal. */
export function formatReport(r: DrillReport): string {
  const d = r.drill;
  const during = r.phases.during;
  const who = d.tenant ? `tenant ${d.tenant}` : "API key";
  const out = [
    `tiermesh drill: ${d.fault.kind} on ${d.tier} (deployment ${d.deployment}, model ${d.model}) for ${sec(d.durationMs)}, ${d.ratePerSecond} req/s${r.interrupted ? "  [INTERRUPTED]" : ""}`,
    `  ${sec(d.beforeMs)} before, ${sec(d.afterMs)} after; ${who}, urgency ${d.urgency}${d.tierHint ? `, tier hint ${d.tierHint}` : ""}; ` +
      `${d.users} users + callers without a user id; router ${d.routerUrl}`,
    `  SLO of ${d.tier}: ${pct(r.slo.latencyTarget)} of answers with TTFT <= ${r.slo.sloTtftMs} ms and ${pct(r.slo.availabilityTarget)} answered ` +
      `(TTFT timeout ${r.slo.ttftTimeoutMs} ms): ${r.sloMet ? "met in every phase" : "MISSED"}; during the fault ${pct(during.slo.ttftWithinSlo)} within, ${pct(during.slo.availability)} answered`,
    "",
    `requests: ${r.requests.sent} sent, ${r.requests.answered} answered, ${r.requests.failed} failed${r.requests.failed ? ` (${errors(r.requests.errors)})` : ""}`,
    "",
    "phases (by send time, from fault start; latency in ms, client-observed, answered requests):",
    ...table([
      [
        "phase",
        "window",
        "sent",
        "failed",
        "served by",
        "in-req fallback",
        "ttft p50/p95/p99/max",
        "total p50/p95/p99/max",
        `ttft>${r.slo.sloTtftMs}`,
        `ttft>${r.slo.ttftTimeoutMs}`,
        "SLO",
      ],
      ...phaseNames.map((n) => phaseRow(n, r.phases[n])),
    ]),
    ...phaseNames.filter((n) => r.phases[n].failed > 0).map((n) => `  ${n}: failed ${errors(r.phases[n].errors)}`),
    ...Object.entries(r.requests.errorExamples).map(([code, message]) => `  e.g. ${code}: ${message.slice(0, 160)}`),
    "",
    "reroute (from fault start):",
    `  first answer from another tier         ${offset(r.reroute.firstAnswerElsewhereMs, "never")}`,
    `  all requests straight to another tier  ${offset(r.reroute.routedAroundMs, "not during the fault")}`,
    `  no request waits for ${d.tier.padEnd(17)} ${offset(r.reroute.noWaitMs, "not during the fault")}`,
    "return (from fault end):",
    `  first request served by ${d.tier.padEnd(14)} ${offset(r.return.firstBackMs, "never")}`,
    `  all requests served by ${d.tier.padEnd(15)} ${offset(r.return.allBackMs, `not within ${sec(d.afterMs)}`)}`,
    "",
    `users: ${r.users.users} with an id; ${r.users.movedOff} moved off ${d.tier}, ${r.users.backOnTier} of them back on it at the end; at most ${r.users.maxChanges} tier changes for one caller`,
    ...r.users.list.slice(0, MAX_USER_LINES).map(userLine),
    ...(r.users.list.length > MAX_USER_LINES ? [`  ... ${r.users.list.length - MAX_USER_LINES} more in --json`] : []),
    "",
    `drill client: send lag p99 ${r.sendLagMs?.p99 ?? "-"} ms, event-loop delay p99 ${r.eventLoopDelayMs.p99} ms; ` +
      `simulator acknowledged the fault in ${r.adminAckMs.fault ?? "-"} ms, the restore in ${r.adminAckMs.restore ?? "-"} ms`,
    r.restored ? `${d.model}'s profile restored` : `WARNING: ${d.model}'s profile was NOT restored`,
    ...r.warnings.map((w) => `warning: ${w}`),
  ];
  return `${out.join("\n")}\n`;
}

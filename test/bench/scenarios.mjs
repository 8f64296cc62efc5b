// Scenario bench: one trace of mixed traffic (tenants on enterprise/pro/free plans,
// interactive and batch, a daily shape compressed into minutes) through the real mesh with
// scripted incidents (gold's primary hangs, silver's latency doubles, a bronze 429 storm,
// gold's primary returns 503s, NATS restarts), under four policies: tiermesh's dynamic
// policy, static ordered fallback, everything on the premium tier, everything on the
// cheapest. Writes a markdown report, an SVG chart and the raw aggregates as JSON, and
// prints the markdown.
// Usage: npm run bench:scenarios [-- --quick] [--seconds 165] [--seed 7] [--policies dynamic,static]
//        [--low 10 --peak 30] [--out dir] [--records file.jsonl]
//        node test/bench/scenarios.mjs --from test/bench/results/scenarios-<date>.json  (re-render the
//        markdown and chart of a saved run, e.g. after changing the report's layout)
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { launchMesh } from "@tiermesh/cli";
import { ConfigError, loadConfig } from "@tiermesh/config";
import { renderChart } from "./scenarios/chart.mjs";
import { runTrace, warmUp, watchRouterView, watchTierStates } from "./scenarios/driver.mjs";
import { FULL_SECONDS, incidentScript } from "./scenarios/incidents.mjs";
import { belowReasons, goldMisses, goldPerIncident, incidentImpacts, reasonCounts, summarize, timeline } from "./scenarios/metrics.mjs";
import { entitlement, policyConfig, policyNames, tenantKeys, tierFacts } from "./scenarios/policies.mjs";
import { evaluateTargets, renderMarkdown } from "./scenarios/report.mjs";
import { generateTrace, tenants } from "./scenarios/trace.mjs";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    seed: { type: "string", default: "20261126" },
    low: { type: "string", default: "10" },
    peak: { type: "string", default: "30" },
    policies: { type: "string", default: policyNames.join(",") },
    out: { type: "string" },
    records: { type: "string" },
    from: { type: "string" },
  },
});
const root = fileURLToPath(new URL("../../", import.meta.url));
const seconds = Number(values.seconds ?? (values.quick ? 60 : FULL_SECONDS));
const seed = Number(values.seed);
const low = Number(values.low);
const peak = Number(values.peak);
const selected = values.policies
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const p of selected) if (!policyNames.includes(p)) throw new Error(`unknown policy ${p} (policies: ${policyNames.join(", ")})`);
const outDir = values.out ?? (values.quick ? join(tmpdir(), "tiermesh-scenarios") : join(root, "test/bench/results"));
const log = (s) => process.stderr.write(`[scenarios] ${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const descriptions = {
  dynamic:
    "production settings: health monitor publishing tier status on NATS, gold hedging on, executor stall detection and routing at their defaults",
  static:
    "no health monitor (no tier status); the router's passive breaker skips a tier for 5 s after 1 failure; ordered in-request fallback gold → silver → bronze; no hedging, no stall detection, no promotion",
  "all-premium": "every request classified to gold (plans default to gold, no rules); otherwise the dynamic policy",
  "all-cheapest": "every request classified to bronze (plans default to bronze, no floor, no rules); otherwise the dynamic policy",
};

/** Writes the markdown, the chart and the aggregates next to each other, and prints the markdown. */
function writeReport(dir, meta, facts, targets, results) {
  const markdown = renderMarkdown({ meta, results, targets, facts });
  mkdirSync(dir, { recursive: true });
  const base = join(dir, `scenarios-${meta.date}`);
  writeFileSync(`${base}.md`, `${markdown}\n![chart](scenarios-${meta.date}.svg)\n`);
  writeFileSync(`${base}.svg`, renderChart({ results, meta }));
  writeFileSync(`${base}.json`, `${JSON.stringify({ meta, facts, targets, results }, null, 1)}\n`);
  process.stdout.write(`${markdown}\n`);
  log(`wrote ${base}.md, .svg and .json`);
}

if (values.from) {
  const saved = JSON.parse(readFileSync(values.from, "utf8"));
  writeReport(values.out ?? dirname(values.from), saved.meta, saved.facts, evaluateTargets(saved.results), saved.results);
  process.exit(0);
}

const started = Date.now();
const keys = tenantKeys();
const trace = generateTrace({ seed, seconds, low, peak });
const incidents = incidentScript(seconds);
const prod = (await policyConfig("dynamic", keys)).raw;
const entitled = entitlement(prod);
const facts = tierFacts(prod);
const bucketSeconds = Math.max(1, Math.round(seconds / 33));
const notes = [];
let stallKnob = true;
const results = {};
const allRecords = {};
log(`trace: ${trace.length} requests over ${seconds} s (seed ${seed}); policies: ${selected.join(", ")}`);

/** Writes the policy's config; drops `stall` if this build does not know it yet. */
async function prepare(policy, dir) {
  for (;;) {
    const { raw, healthMonitor } = await policyConfig(policy, keys, { stallKnob });
    const file = join(dir, `${policy}.yaml`);
    writeFileSync(file, stringify(raw));
    try {
      return { raw, healthMonitor, file, config: loadConfig(file, {}) };
    } catch (err) {
      if (stallKnob && err instanceof ConfigError && /stall/.test(err.message)) {
        stallKnob = false;
        notes.push(
          "This build does not know `tiers.<t>.stall` yet: the static policy ran without `stall.enabled: false` (and no policy had stall detection).",
        );
        continue;
      }
      throw err;
    }
  }
}

for (const policy of selected) {
  const dir = mkdtempSync(join(tmpdir(), `tiermesh-scenarios-${policy}-`));
  const { raw, healthMonitor, file, config } = await prepare(policy, dir);
  const tail = [];
  log(`${policy}: starting the mesh${healthMonitor ? "" : " without a health monitor"}`);
  const mesh = await launchMesh({
    configFile: file,
    config,
    healthMonitor,
    startTimeoutMs: 30_000,
    onLine: (name, line) => {
      tail.push(`[${name}] ${line}`);
      if (tail.length > 400) tail.shift();
    },
  });
  let watcher;
  try {
    const routerUrl = `http://${raw.router.listen}`;
    const simUrl = `http://${raw.simulator.listen}`;
    const warmFailed = await warmUp(routerUrl, trace, keys, 48);
    if (warmFailed) log(`${policy}: ${warmFailed} warm-up requests failed`);
    await sleep(1_000);
    let t0 = performance.now();
    if (healthMonitor) watcher = await watchTierStates(mesh.natsUrl, () => t0);
    const routerView = watchRouterView(routerUrl, () => t0);
    const ctx = {
      nats: mesh.nats,
      async patch(model, patch) {
        const res = await fetch(`${simUrl}/admin/models/${encodeURIComponent(model)}`, {
          method: "PATCH",
          headers: { "content-type": "application/json" },
          body: JSON.stringify(patch),
        });
        if (!res.ok) throw new Error(`simulator admin: HTTP ${res.status}: ${await res.text()}`);
      },
    };
    log(`${policy}: running the trace (${seconds} s)`);
    const loads = [];
    const sampler = setInterval(() => loads.push(loadavg()[0]), 5_000);
    const run = await runTrace({
      routerUrl,
      trace,
      keys,
      incidents,
      ctx,
      entitled,
      home: entitlement(raw),
      onStart: (t) => (t0 = t),
    }).finally(() => {
      clearInterval(sampler);
      routerView.stop();
    });
    const endMs = seconds * 1_000;
    const applied = incidents.map((inc) => ({ ...inc, ...run.applied.find((a) => a.id === inc.id) }));
    const { records } = run;
    allRecords[policy] = records;
    const lags = records.map((r) => r.lagMs).sort((a, b) => a - b);
    const lag = { p99Ms: Math.round(lags[Math.floor(lags.length * 0.99)]), maxMs: Math.round(lags.at(-1)) };
    if (lag.p99Ms > 50)
      notes.push(`${policy}: the load generator fell behind its schedule (start lag p99 ${lag.p99Ms} ms, max ${lag.maxMs} ms).`);
    const mismatched = records.filter((r) => r.code === "" && r.requested !== r.home).length;
    if (mismatched) notes.push(`${policy}: ${mismatched} requests were classified to another tier than the bench expected.`);
    const r = config.tiers.gold.routing;
    const stall = config.tiers.gold.stall;
    results[policy] = {
      description:
        `${descriptions[policy]} (gold: hedge ${config.tiers.gold.hedge.enabled ? "on" : "off"}, stall detection ${stall ? (stall.enabled ? "on" : "off") : "not in this build"}, ` +
        `on_degraded ${r.on_degraded}, on_down ${r.on_down}, sticky ${r.sticky_ms} ms, return steps ${r.return_steps.join("/")} every ${r.return_step_ms} ms).`,
      healthMonitor,
      summary: summarize(records, facts),
      incidents: incidentImpacts(records, facts, applied, endMs).map((x, i) => ({
        ...x,
        appliedMs: applied[i].appliedMs,
        revertedMs: applied[i].revertedMs,
      })),
      goldPerIncident: goldPerIncident(records, facts, applied),
      goldTimeline: timeline(records, facts, "gold", bucketSeconds * 1_000, endMs),
      bucketSeconds,
      stateChanges: watcher?.changes ?? [],
      routerView: routerView.changes,
      counts: reasonCounts(records),
      belowReasons: belowReasons(records, facts),
      goldMisses: goldMisses(records, facts, applied),
      lag,
      load: { mean: loads.reduce((a, b) => a + b, 0) / Math.max(1, loads.length), max: Math.max(0, ...loads) },
    };
    const s = results[policy].summary;
    log(
      `${policy}: gold SLO ${(s.gold.sloMet * 100).toFixed(2)}%, at entitled ${(s.all.atEntitled * 100).toFixed(1)}%, failed ${s.all.failed}, ` +
        `$${s.all.costPer1k.toFixed(3)}/1k, lag p99 ${lag.p99Ms} ms, load ${results[policy].load.mean.toFixed(1)}`,
    );
  } catch (err) {
    log(`${policy} failed; last service lines:\n${tail.slice(-30).join("\n")}`);
    throw err;
  } finally {
    await watcher?.close().catch(() => undefined);
    await mesh.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  await sleep(1_000);
}

const git = (...args) => {
  try {
    return execFileSync("git", args, { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "";
  }
};
const date = new Date().toISOString().slice(0, 10);
const meta = {
  date,
  seconds,
  seed,
  low,
  peak,
  quick: values.quick,
  requests: trace.length,
  tenants: `${tenants.length} tenants (${[...new Set(tenants.map((t) => t.plan))].join("/")}), ${tenants.reduce((s, t) => s + t.users, 0)} end users`,
  machine: `${availableParallelism()} CPUs (${cpus()[0]?.model.trim() ?? "?"}), Node.js ${process.version}`,
  commit: `${git("rev-parse", "--short", "HEAD") || "unknown"}${git("status", "--porcelain", "--untracked-files=no") ? " with uncommitted changes" : ""}`,
  tookMinutes: ((Date.now() - started) / 60_000).toFixed(1),
  notes,
};
if (values.records)
  writeFileSync(
    values.records,
    Object.entries(allRecords)
      .flatMap(([p, rs]) => rs.map((r) => JSON.stringify({ policy: p, ...r })))
      .join("\n"),
  );
writeReport(outDir, meta, facts, evaluateTargets(results), results);

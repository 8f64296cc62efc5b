// Asynchronous jobs bench: queues N single-prompt jobs on bronze (async) against the simulator
// and reports the drain rate, jobs lost, duplicated or delivered twice, and the TTFT p95 of interactive requests
// served by the same tier during the drain (against the same requests before it).
// Usage: npx turbo run build --output-logs=errors-only && node test/bench/async-jobs.mjs
//        [--jobs 10000] [--interactive-rps 20] [--max-concurrency 4] [--batch 500] [--baseline-seconds 10]
// --max-concurrency is bronze's async.max_concurrency (the config default: 4).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { stringify } from "yaml";
import { launchMesh } from "@tiermesh/cli";
import { loadConfig } from "@tiermesh/config";
import { freePort } from "@tiermesh/process";
import { JobService, JobState, RouterService } from "@tiermesh/proto";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "10000" },
    "interactive-rps": { type: "string", default: "20" },
    "max-concurrency": { type: "string", default: "4" },
    batch: { type: "string", default: "500" },
    "baseline-seconds": { type: "string", default: "10" },
  },
});
const N = Number(values.jobs);
const RPS = Number(values["interactive-rps"]);
const BATCH = Number(values.batch);
const BASELINE_S = Number(values["baseline-seconds"]);
const log = (msg) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${msg}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const hp = async () => `127.0.0.1:${await freePort()}`;
const [router, classifier, monitor, simulator, launcher, gold, bronze] = await Promise.all(Array.from({ length: 7 }, hp));
const sim = { ttft_ms: { median: 20, p99: 60 }, inter_token_ms: { median: 1, p99: 3 }, output_tokens: { min: 8, max: 16 } };
const tier = (rank, listen, model, extra = {}) => ({
  rank,
  executor: { listen },
  models: [{ provider: "sim", model, price: { input_per_mtok: rank, output_per_mtok: rank * 3 } }],
  routing: { sticky_ms: 0 },
  ...extra,
});
const raw = {
  log: { level: "warn" },
  router: { listen: router, anonymous_tenant: "bench" },
  classifier: { listen: classifier, rules: [{ id: "batch-to-bronze", when: { urgencies: ["batch"] }, tier: "bronze" }] },
  health_monitor: { listen: monitor },
  launcher: { listen: launcher },
  providers: { sim: { kind: "openai", base_url: `http://${simulator}/v1` } },
  tiers: {
    gold: tier(2, gold, "sim-gold", { fallback: "bronze" }),
    bronze: tier(1, bronze, "sim-bronze", {
      async: { enabled: true, max_concurrency: Number(values["max-concurrency"]), ack_wait_ms: 10_000 },
    }),
  },
  plans: { standard: { default_tier: "gold", max_tier: "gold" } },
  tenants: { bench: { plan: "standard" } },
  simulator: { listen: simulator, models: { "sim-gold": sim, "sim-bronze": sim } },
};
const dir = mkdtempSync(join(tmpdir(), "tiermesh-async-bench-"));
const file = join(dir, "tiermesh.yaml");
writeFileSync(file, stringify(raw));
log(`starting the mesh (jobs: ${N}, interactive: ${RPS} req/s on bronze)`);
const mesh = await launchMesh({ configFile: file, config: loadConfig(file, {}), startTimeoutMs: 60_000 });
const transport = createConnectTransport({ baseUrl: `http://${router}`, httpVersion: "1.1", useBinaryFormat: true });
const jobs = createClient(JobService, transport);
const rpc = createClient(RouterService, transport);

/** Interactive requests on bronze (urgency "batch" classifies there), open loop; their TTFTs. */
function interactive() {
  const ttfts = [];
  let failed = 0;
  let sent = 0;
  let stop = false;
  const one = async () => {
    const started = performance.now();
    sent++;
    try {
      let ttft;
      for await (const r of rpc.completeStream(
        { input: { messages: [{ role: "user", content: "interactive question" }], urgency: "batch" } },
        { timeoutMs: 30_000 },
      )) {
        if (r.event.case === "delta") ttft ??= performance.now() - started;
      }
      ttfts.push(ttft ?? performance.now() - started);
    } catch {
      failed++;
    }
  };
  const running = (async () => {
    const inFlight = new Set();
    while (!stop) {
      const p = one().finally(() => inFlight.delete(p));
      inFlight.add(p);
      await sleep(1_000 / RPS);
    }
    await Promise.all(inFlight);
  })();
  return {
    stats: () => ({ sent, failed, ttfts }),
    async stop() {
      stop = true;
      await running;
    },
  };
}

const p95 = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(0.95 * s.length))];
};
async function simRequests() {
  const r = await (await fetch(`http://${simulator}/admin/requests`)).json();
  return r["sim-bronze"]?.requests ?? 0;
}
async function gauge(series) {
  const text = await (await fetch(`http://${router}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${series}{`) && l.includes('tier="bronze"'));
  return line === undefined ? undefined : Number(line.split(" ").pop());
}

try {
  log(`baseline: interactive only, ${BASELINE_S} s`);
  const base = interactive();
  await sleep(BASELINE_S * 1_000);
  await base.stop();
  const baseline = base.stats();
  const simBefore = await simRequests();

  const run = `bench-${Date.now()}`;
  const during = interactive();
  const t0 = performance.now();
  const ids = new Set();
  for (let i = 0; i < N; i += BATCH) {
    const specs = Array.from({ length: Math.min(BATCH, N - i) }, (_, k) => ({
      idempotencyKey: `${run}-${i + k}`,
      input: { messages: [{ role: "user", content: `job ${i + k}` }] },
    }));
    const res = await jobs.submitJobs({ jobs: specs }, { timeoutMs: 120_000 });
    for (const s of res.jobs) ids.add(s.job.id);
  }
  const submittedS = (performance.now() - t0) / 1_000;
  log(`submitted ${ids.size} jobs in ${submittedS.toFixed(1)} s; draining`);
  let peak = 0;
  let oldestPeak = 0;
  for (;;) {
    const [queued, inProgress, oldest] = await Promise.all([
      gauge("tiermesh_jobs_queued"),
      gauge("tiermesh_jobs_in_progress"),
      gauge("tiermesh_jobs_oldest_queued_age_seconds"),
    ]);
    peak = Math.max(peak, queued ?? 0);
    oldestPeak = Math.max(oldestPeak, oldest ?? 0);
    if (queued === 0 && inProgress === 0 && performance.now() - t0 > 3_000) break;
    await sleep(500);
  }
  const drainS = (performance.now() - t0) / 1_000;
  await during.stop();
  const load = during.stats();
  const simAfter = await simRequests();

  log("checking every job");
  const states = new Map();
  let listed = 0;
  let redelivered = 0;
  let token = "";
  const seen = new Set();
  do {
    const page = await jobs.listJobs({ pageSize: 1000, pageToken: token });
    for (const j of page.jobs) {
      if (!ids.has(j.id)) continue;
      listed++;
      seen.add(j.id);
      if (j.attempts > 1) redelivered++;
      states.set(JobState[j.state], (states.get(JobState[j.state]) ?? 0) + 1);
    }
    token = page.nextPageToken;
  } while (token);
  const executions = simAfter - simBefore - load.sent;
  const report = {
    jobs: N,
    unique_job_ids: ids.size,
    submit_seconds: Number(submittedS.toFixed(1)),
    drain_seconds: Number(drainS.toFixed(1)),
    drain_rate_per_s: Number((N / drainS).toFixed(1)),
    peak_queued: peak,
    peak_oldest_queued_age_s: oldestPeak,
    states: Object.fromEntries(states),
    lost: N - seen.size,
    duplicated_jobs: listed - seen.size + Math.max(0, ids.size - N),
    jobs_delivered_more_than_once: redelivered,
    // Provider calls beyond one per job: executor retries and hedges as well as jobs run twice.
    extra_provider_calls: executions - N,
    interactive_before: { requests: baseline.sent, failed: baseline.failed, ttft_p95_ms: Number(p95(baseline.ttfts).toFixed(1)) },
    interactive_during: { requests: load.sent, failed: load.failed, ttft_p95_ms: Number(p95(load.ttfts).toFixed(1)) },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} finally {
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
}

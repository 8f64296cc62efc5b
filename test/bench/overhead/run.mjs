// Overhead of tiermesh against the provider alone: the simulator called directly, the
// multi-process mesh and the one-process mode, each under open-loop constant-rate load,
// with CPU per request and peak RSS for every process. Linux only (reads /proc).
// Usage: npm run bench [-- --rates 100,200 --seconds 5 --runs 3 --rpc]
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { serviceNodeArgs } from "@tiermesh/cli";
import { measureHopFloor } from "./hop-floor.mjs";
import { MODES, startMode } from "./modes.mjs";
import { openLoop } from "./open-loop.mjs";
import { cpuSnapshot, memoryMb, startMemorySampler } from "./proc-stats.mjs";
import { evaluateTargets, renderMarkdown } from "./report.mjs";
import { SUSTAINED, summarise } from "./summary.mjs";

const usage = `usage: npm run bench -- [--rates 100,200,...] [--seconds N] [--runs N] [--warmup S] [--soak-seconds S] [--soak-rate R] [--modes ${MODES.join(",")}] [--rpc] [--connections N] [--floor-seconds S] [--out DIR]`;
let values;
try {
  ({ values } = parseArgs({
    options: {
      rates: { type: "string", default: "100,200,500,1000,2000" },
      seconds: { type: "string", default: "5" },
      runs: { type: "string", default: "3" },
      warmup: { type: "string", default: "3" },
      modes: { type: "string", default: MODES.join(",") },
      rpc: { type: "boolean", default: false },
      connections: { type: "string", default: "128" },
      "soak-seconds": { type: "string", default: "60" },
      "soak-rate": { type: "string", default: "300" },
      "floor-seconds": { type: "string", default: "8" },
      out: { type: "string", default: join(dirname(fileURLToPath(import.meta.url)), "..", "results") },
    },
  }));
} catch (err) {
  console.error(`${err instanceof Error ? err.message : err}\n${usage}`);
  process.exit(2);
}
const rates = values.rates.split(",").map(Number);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const warmupSeconds = Number(values.warmup);
const connections = Number(values.connections);
const soakSeconds = Number(values["soak-seconds"]);
const soakRate = Number(values["soak-rate"]);
const floorSeconds = Number(values["floor-seconds"]);
const modes = values.modes.split(",");
const bad =
  [...rates, seconds, runs, connections, soakRate].some((n) => !(n > 0)) ||
  !(warmupSeconds >= 0) ||
  !(soakSeconds >= 0) ||
  !(floorSeconds >= 0) ||
  modes.some((m) => !MODES.includes(m));
if (bad) {
  console.error(usage);
  process.exit(2);
}
rates.sort((a, b) => a - b);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const date = new Date().toISOString().slice(0, 10);
const results = {
  meta: {
    date,
    command: `npm run bench -- ${process.argv.slice(2).join(" ")}`.trim(),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    node: process.version,
    serviceNodeArgs: serviceNodeArgs().join(" "),
    serviceNodeArgsFromEnv: process.env.TIERMESH_NODE_ARGS !== undefined,
    // What each service process runs: its bundle or its compiled modules (the package's ./main).
    serviceEntries: Object.fromEntries(
      ["router", "tier-executor", "classifier", "health-monitor"].map((s) => [
        s,
        fileURLToPath(import.meta.resolve(`@tiermesh/${s}/main`)).split(`/services/${s}/`)[1],
      ]),
    ),
    loadAverage: loadavg()
      .map((x) => x.toFixed(2))
      .join(" "),
    rates,
    seconds,
    runs,
    warmupSeconds,
    soakSeconds,
    soakRate,
    connections,
    sustained: SUSTAINED,
    primaryPath: "edge",
  },
  modes: [],
};

// Whatever is running is stopped on the way out, Ctrl-C included.
let running;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.once(signal, () => {
    console.error(`\n${signal}: stopping the processes started`);
    const done = () => process.exit(130);
    (running?.stop() ?? Promise.resolve()).then(done, done);
    setTimeout(done, 10_000).unref();
  });
}

/** One measured window: the load, and every process's CPU before and after it. */
async function window(procs, call, rate) {
  const before = cpuSnapshot(procs);
  const w = await openLoop({ rate, seconds, call });
  const after = cpuSnapshot(procs);
  w.cpuMsPerRequest = Object.fromEntries(procs.map((p) => [p.name, (after[p.name] - before[p.name]) / w.requests]));
  return w;
}

for (const mode of modes) {
  console.log(`${mode}: starting`);
  running = await startMode(mode, { connections });
  const procs = [...running.processes, { name: "load-generator", pid: process.pid }];
  const memory = startMemorySampler(procs);
  const measured = [];
  /** RSS of each process after `soakSeconds` at `soakRate` (how the memory targets are stated), before the rate sweep. */
  let soakRssMb = {};
  try {
    if (mode !== "provider" && soakSeconds > 0) {
      const soak = await openLoop({ rate: soakRate, seconds: soakSeconds, call: running.edge });
      soakRssMb = Object.fromEntries(procs.map((p) => [p.name, memoryMb(p.pid)?.rss ?? NaN]));
      console.log(
        `  soak ${soakRate} req/s for ${soakSeconds} s: ${soak.errors ?? 0} errors; RSS ${Object.entries(soakRssMb)
          .map(([n, mb]) => `${n} ${mb.toFixed(0)} MB`)
          .join(", ")}`,
      );
      await sleep(500);
    }
    for (const path of mode === "provider" || !values.rpc ? ["edge"] : ["edge", "rpc"]) {
      const call = running[path];
      if (warmupSeconds > 0) await openLoop({ rate: Math.min(rates[0], 100), seconds: warmupSeconds, call });
      const rows = [];
      for (const rate of rates) {
        const windows = [];
        for (let r = 0; r < runs; r++) {
          windows.push(await window(procs, call, rate));
          await sleep(500);
        }
        const row = summarise(rate, windows);
        rows.push(row);
        console.log(
          `  ${path} ${rate} req/s: achieved ${row.achieved.toFixed(0)}, errors ${row.errors}, p50 ${row.p50.toFixed(2)} ms, ` +
            `p99 ${row.p99.toFixed(2)} ms, mesh CPU ${Number.isNaN(row.meshCpuMsPerRequest) ? "—" : row.meshCpuMsPerRequest.toFixed(3)} ms/req${row.stopped ? ` — stopping: ${row.stopped}` : ""}`,
        );
        if (row.stopped) break;
      }
      measured.push({ mode, path, processes: procs.map((p) => p.name), rates: rows });
    }
  } finally {
    const peakRssMb = memory.stop();
    for (const m of measured) results.modes.push({ ...m, peakRssMb, soakRssMb });
    await running.stop();
    running = undefined;
  }
}

// What the hops cost alone, at the middle of the sweep's rates (0 s: skipped).
if (floorSeconds > 0) {
  const rate = rates.includes(500) ? 500 : rates[Math.floor(rates.length / 2)];
  console.log(`hop floor: ${rate} calls/s, ${floorSeconds} s, ${runs} run(s) per hop`);
  results.floor = await measureHopFloor({ rate, seconds: floorSeconds, runs });
}

const targets = evaluateTargets(results);
const markdown = renderMarkdown(results, targets);
mkdirSync(values.out, { recursive: true });
// A second run on the same day is kept beside the first (-2, -3, ...), not written over it.
let base = join(values.out, `overhead-${date}`);
for (let n = 2; existsSync(`${base}.md`); n++) base = join(values.out, `overhead-${date}-${n}`);
writeFileSync(`${base}.md`, markdown);
writeFileSync(`${base}.json`, `${JSON.stringify({ ...results, targets }, null, 2)}\n`);
console.log(`\n${markdown}\nwritten: ${base}.md, ${base}.json`);

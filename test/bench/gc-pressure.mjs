// What the garbage collector does per request in each mesh process, for two sets of Node flags
// run alternately (README: "Tail latency and the garbage collector"). Every process runs with
// `--trace-gc-nvp` added; per process it prints the bytes promoted to old space per request,
// scavenges and mark-compacts per 1,000 requests, CPU ms per request and RSS at the end, and
// the latency of the open-loop window. A mark-compact is a cluster of slow requests, so fewer
// per 1,000 requests means a shorter tail.
// Usage: node test/bench/gc-pressure.mjs [--mode multi-process|one-process] [--rate 200]
//   [--seconds 20] [--runs 2] [--warmup 5] [--a="<flags>"] [--b="<flags>"] (with "=": the flags start with a dash)
// --a defaults to the flags `tiermesh up` uses, --b to the same without
// --no-allocation-site-pretenuring.
import { parseArgs } from "node:util";
import { serviceNodeArgs } from "@tiermesh/cli";
import { startMode } from "./overhead/modes.mjs";
import { openLoop } from "./overhead/open-loop.mjs";
import { cpuSnapshot, memoryMb } from "./overhead/proc-stats.mjs";
import { median } from "./overhead/summary.mjs";

const defaults = serviceNodeArgs().join(" ");
const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "multi-process" },
    rate: { type: "string", default: "200" },
    seconds: { type: "string", default: "20" },
    runs: { type: "string", default: "2" },
    warmup: { type: "string", default: "5" },
    a: { type: "string", default: defaults },
    b: { type: "string", default: defaults.replace(/\s*--no-allocation-site-pretenuring/, "") },
  },
});
const [rate, seconds, runs, warmup] = [values.rate, values.seconds, values.runs, values.warmup].map(Number);
if (!["multi-process", "one-process"].includes(values.mode) || ![rate, seconds, runs, warmup].every((n) => n > 0)) {
  console.error(
    'usage: node test/bench/gc-pressure.mjs [--mode multi-process|one-process] [--rate N] [--seconds N] [--runs N] [--warmup S] [--a="<flags>"] [--b="<flags>"]',
  );
  process.exit(2);
}

/** One window at `rate` with `flags`: per process GC counts, promoted bytes, CPU and RSS. */
async function measure(flags) {
  process.env.TIERMESH_NODE_ARGS = `${flags} --trace-gc-nvp`;
  const gc = new Map();
  let counting = false;
  const onLine = (name, line) => {
    if (!counting || !line.includes("gc=")) return;
    const g = gc.get(name) ?? { scavenges: 0, markCompacts: 0, promoted: 0 };
    if (/\bgc=s\b/.test(line)) g.scavenges++;
    else if (/\bgc=mc\b/.test(line)) g.markCompacts++;
    g.promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
    gc.set(name, g);
  };
  const mode = await startMode(values.mode, { connections: 128, onLine });
  try {
    await openLoop({ rate: Math.min(rate, 300), seconds: warmup, call: mode.edge });
    const before = cpuSnapshot(mode.processes);
    counting = true;
    const window = await openLoop({ rate, seconds, call: mode.edge });
    counting = false;
    const after = cpuSnapshot(mode.processes);
    const n = rate * seconds;
    const processes = mode.processes
      .filter((p) => p.name !== "nats-server")
      .map((p) => {
        const g = gc.get(p.name) ?? { scavenges: 0, markCompacts: 0, promoted: 0 };
        return {
          name: p.name,
          promotedKbPerRequest: g.promoted / 1024 / n,
          scavengesPer1k: (g.scavenges * 1_000) / n,
          markCompactsPer1k: (g.markCompacts * 1_000) / n,
          cpuMsPerRequest: (after[p.name] - before[p.name]) / n,
          rssMb: memoryMb(p.pid)?.rss ?? Number.NaN,
        };
      });
    return { p50: window.p50, p99: window.p99, errors: window.errors, processes };
  } finally {
    await mode.stop();
  }
}

const results = { a: [], b: [] };
for (let i = 0; i < runs; i++) {
  for (const key of ["a", "b"]) {
    const r = await measure(values[key]);
    results[key].push(r);
    console.error(`run ${i + 1} ${key}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, errors ${r.errors}`);
  }
}

const f = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : "—");
console.log(`# GC pressure, ${values.mode}, ${rate} req/s for ${seconds} s, median of ${runs} alternated run(s)\n`);
console.log(`- a: \`${values.a}\`\n- b: \`${values.b}\`\n`);
console.log("| process | flags | promoted KB/req | scavenges /1k req | mark-compacts /1k req | CPU ms/req | RSS MB |");
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const name of results.a[0].processes.map((p) => p.name)) {
  for (const key of ["a", "b"]) {
    const of = (field) => median(results[key].map((r) => r.processes.find((p) => p.name === name)?.[field] ?? Number.NaN));
    console.log(
      `| ${name} | ${key} | ${f(of("promotedKbPerRequest"), 2)} | ${f(of("scavengesPer1k"), 2)} | ${f(of("markCompactsPer1k"), 2)} | ${f(of("cpuMsPerRequest"), 3)} | ${f(of("rssMb"), 0)} |`,
    );
  }
}
for (const key of ["a", "b"]) {
  const m = (field) => median(results[key].map((r) => r[field]));
  console.log(`\n${key}: p50 ${f(m("p50"), 2)} ms, p99 ${f(m("p99"), 2)} ms (median of the runs)`);
}

// A mesh that has just started, given its full rate at once: latency second by second from the
// first request, and each process's CPU in each second (README: "Warm-up after a start").
// Freshly started processes run their code in V8's interpreter and baseline tier until it is
// hot enough to optimise, so their first seconds cost about twice the CPU per request of a
// warm process; at a rate near half its capacity a mesh queues until its code is optimised.
// Usage: node test/bench/cold-start.mjs [--mode multi-process|one-process] [--rate 300]
//   [--seconds 10] [--runs 2]
import { parseArgs } from "node:util";
import hdr from "hdr-histogram-js";
import { startMode } from "./overhead/modes.mjs";
import { cpuSnapshot } from "./overhead/proc-stats.mjs";
import { median } from "./overhead/summary.mjs";

const { values } = parseArgs({
  options: {
    mode: { type: "string", default: "multi-process" },
    rate: { type: "string", default: "300" },
    seconds: { type: "string", default: "10" },
    runs: { type: "string", default: "2" },
  },
});
const [rate, seconds, runs] = [values.rate, values.seconds, values.runs].map(Number);
if (!["multi-process", "one-process"].includes(values.mode) || ![rate, seconds, runs].every((n) => n > 0)) {
  console.error("usage: node test/bench/cold-start.mjs [--mode multi-process|one-process] [--rate N] [--seconds N] [--runs N]");
  process.exit(2);
}
/** Requests still open this long after the last one was due count as errors. */
const GRACE_MS = 15_000;

const histogram = () => hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
const ms = (h, p) => (h.totalCount > 0 ? h.getValueAtPercentile(p) / 1_000 : Number.NaN);

/** One fresh mesh, `rate` req/s from its first request on (open loop, latency from each request's due time). */
async function measure() {
  const mode = await startMode(values.mode, { connections: 128 });
  try {
    const all = histogram();
    const bySecond = Array.from({ length: seconds }, histogram);
    const cpu = [cpuSnapshot(mode.processes)];
    const sampler = setInterval(() => cpu.push(cpuSnapshot(mode.processes)), 1_000);
    const total = rate * seconds;
    const start = performance.now() + 2;
    const calls = [];
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1_000) / rate;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
      calls.push(
        mode.edge().then(
          () => {
            const us = Math.max(1, Math.round((performance.now() - due) * 1_000));
            all.recordValue(us);
            bySecond[Math.floor(i / rate)].recordValue(us);
          },
          () => undefined,
        ),
      );
    }
    let timer;
    await Promise.race([Promise.all(calls), new Promise((resolve) => (timer = setTimeout(resolve, GRACE_MS)))]);
    clearTimeout(timer);
    clearInterval(sampler);
    // A request that failed or has not answered by then is an error, as in the overhead benchmark.
    const errors = total - all.totalCount;
    const result = {
      p50: ms(all, 50),
      p99: ms(all, 99),
      max: all.maxValue / 1_000,
      errors,
      seconds: bySecond.map((h) => ({ p50: ms(h, 50), p99: ms(h, 99) })),
      cpuMsPerSecond: Object.fromEntries(
        Object.keys(cpu[0]).map((name) => [name, cpu.slice(1).map((snap, i) => snap[name] - cpu[i][name])]),
      ),
    };
    for (const h of [all, ...bySecond]) h.destroy();
    return result;
  } finally {
    await mode.stop();
  }
}

const results = [];
for (let i = 0; i < runs; i++) {
  const r = await measure();
  console.log(`run ${i + 1}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, max ${r.max.toFixed(0)} ms, errors ${r.errors}`);
  results.push(r);
}

const fmt = (n) => (Number.isFinite(n) ? n.toFixed(n < 10 ? 1 : 0) : "—");
console.log(`\n# Cold start, ${values.mode}, ${rate} req/s from the first request for ${seconds} s, median of ${runs} run(s)\n`);
console.log(`Whole window: p50 ${fmt(median(results.map((r) => r.p50)))} ms, p99 ${fmt(median(results.map((r) => r.p99)))} ms\n`);
console.log(`| second | ${Array.from({ length: seconds }, (_, i) => i + 1).join(" | ")} |`);
console.log(`| --- | ${Array.from({ length: seconds }, () => "---").join(" | ")} |`);
for (const key of ["p50", "p99"]) {
  console.log(
    `| ${key} ms | ${Array.from({ length: seconds }, (_, s) => fmt(median(results.map((r) => r.seconds[s][key])))).join(" | ")} |`,
  );
}
for (const name of Object.keys(results[0].cpuMsPerSecond)) {
  const perSecond = Array.from({ length: seconds - 1 }, (_, s) => fmt(median(results.map((r) => r.cpuMsPerSecond[name][s] ?? Number.NaN))));
  console.log(`| ${name} CPU ms | ${perSecond.join(" | ")} | |`);
}

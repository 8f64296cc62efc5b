// Bytes promoted to old space per operation for hot-path code patterns that Node 20 (V8 11.3)
// collects only in a mark-compact, each beside the form tiermesh uses instead, run alternately
// in fresh processes with `--trace-gc-nvp` and the services' own flags. Every loop yields to the
// event loop every 50 operations, as requests do. Promoted garbage is what makes mark-compacts,
// and a mark-compact pauses every call in the process (README: "Tail latency and the garbage
// collector").
// Usage: node test/bench/promotion-patterns.mjs [--ops 200000] [--runs 3]
import { AsyncResource } from "node:async_hooks";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { serviceNodeArgs } from "@tiermesh/cli";
import { median } from "./overhead/summary.mjs";

const { values } = parseArgs({
  options: { ops: { type: "string", default: "200000" }, runs: { type: "string", default: "3" }, child: { type: "string" } },
});
const ops = Number(values.ops);
const runs = Number(values.runs);

const attempt = (i) => ({ deployment: "d", finishReason: "stop", promptTokens: i, completionTokens: 4, costUsd: i * 1e-6, ttftMs: i / 3 });

/** Pairs of [the pattern, the form used instead]. */
const CASES = {
  "AbortController (Node)": (_i, sink) => {
    const controller = new AbortController();
    controller.signal.addEventListener("abort", sink.listener, { once: true });
    controller.signal.removeEventListener("abort", sink.listener);
  },
  CallAbortController: (_i, sink) => {
    const controller = new sink.CallAbortController();
    controller.signal.addEventListener("abort", sink.listener, { once: true });
    controller.signal.removeEventListener("abort", sink.listener);
  },
  "{ ...a, new fields }": (i, sink) => {
    const a = attempt(i);
    sink.value = { ...a, attempts: 1, totalMs: i / 7, cached: false };
  },
  "fields one by one": (i, sink) => {
    const a = attempt(i);
    sink.value = {
      deployment: a.deployment,
      finishReason: a.finishReason,
      promptTokens: a.promptTokens,
      completionTokens: a.completionTokens,
      costUsd: a.costUsd,
      ttftMs: a.ttftMs,
      attempts: 1,
      totalMs: i / 7,
      cached: false,
    };
  },
  "AsyncResource#bind (Node)": (i) => {
    const captured = [i];
    new AsyncResource("bench").bind(() => captured.length)();
  },
  "AsyncResource#bind, lean (leanAsyncResourceBind)": (i, sink) => {
    sink.lean ??= sink.leanAsyncResourceBind();
    const captured = [i];
    new AsyncResource("bench").bind(() => captured.length)();
  },
};

if (values.child) {
  const run = CASES[values.child];
  const { CallAbortController, leanAsyncResourceBind } = await import("@tiermesh/runtime");
  const sink = { listener: () => undefined, CallAbortController, leanAsyncResourceBind };
  for (let i = 0; i < ops; i++) {
    run(i, sink);
    if (i % 50 === 0) await new Promise((resolve) => setImmediate(resolve));
  }
  process.exit(0);
}

if (!(ops > 0 && runs > 0)) {
  console.error("usage: node test/bench/promotion-patterns.mjs [--ops N] [--runs N]");
  process.exit(2);
}

/** One child running `ops` operations of `name`: promoted bytes per operation and collections. */
function measure(name) {
  const args = [...serviceNodeArgs(), "--trace-gc-nvp", fileURLToPath(import.meta.url), `--ops=${ops}`, `--child=${name}`];
  const out = spawnSync(process.execPath, args, { encoding: "utf8", maxBuffer: 64 << 20 });
  if (out.status !== 0) throw new Error(`${name}: child failed (${out.status}): ${out.stderr.slice(0, 400)}`);
  let promoted = 0;
  let scavenges = 0;
  let markCompacts = 0;
  for (const line of out.stdout.split("\n")) {
    if (/\bgc=s\b/.test(line)) scavenges++;
    else if (/\bgc=mc\b/.test(line)) markCompacts++;
    promoted += Number(/\bpromoted=(\d+)/.exec(line)?.[1] ?? 0);
  }
  return { promoted: promoted / ops, scavenges, markCompacts };
}

const names = Object.keys(CASES);
const results = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < runs; i++) for (const name of names) results[name].push(measure(name));

const m = (name, field) => median(results[name].map((r) => r[field]));
console.log(`# Promotion per operation, ${ops} operations, median of ${runs} alternated run(s), Node ${process.version}\n`);
console.log("| pattern | promoted bytes per op | scavenges | mark-compacts |");
console.log("| --- | --- | --- | --- |");
for (const name of names)
  console.log(`| ${name} | ${m(name, "promoted").toFixed(0)} | ${m(name, "scavenges")} | ${m(name, "markCompacts")} |`);

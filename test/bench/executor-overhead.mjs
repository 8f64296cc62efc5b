// Tier executor benchmarks against the in-process simulator, on this machine.
//  (a) Overhead of TierRunner.run per request: p50/p99 of streaming through the runner against a
//      zero-latency model, minus p50/p99 of the same streaming request sent straight to the
//      simulator with undici. Sequential calls; median of --runs runs.
//  (b) Hedging on a heavy-tailed model: p50/p99 latency with hedging off and on, and the extra
//      attempts hedging cost as a share of requests. Median of --hedge-runs runs.
// Usage: npx turbo run build --output-logs=errors-only && node test/bench/executor-overhead.mjs
//        [--calls 2000] [--runs 5] [--requests 300] [--concurrency 10] [--hedge-runs 3]
import { parseArgs } from "node:util";
import { create } from "@bufbuild/protobuf";
import { Pool } from "undici";
import { stringify } from "yaml";
import { parseConfig } from "@tiermesh/config";
import { CompletionInputSchema } from "@tiermesh/proto";
import { createSimulator, simulatorConfigSchema } from "@tiermesh/simulator";
import { createProviders, TierRunner } from "@tiermesh/tier-executor";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "2000" },
    runs: { type: "string", default: "5" },
    requests: { type: "string", default: "300" },
    concurrency: { type: "string", default: "10" },
    "hedge-runs": { type: "string", default: "3" },
  },
});
const CALLS = Number(values.calls);
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const HEDGE_RUNS = Number(values["hedge-runs"]);
const MAX_EXTRA_RATIO = 0.1;
const HEDGE_DELAY_MS = 100;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
function percentiles(samples) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
  return { p50: at(50), p99: at(99) };
}
const ms = (x) => `${x.toFixed(x < 10 ? 3 : 1)} ms`;

/** Small seeded PRNG (mulberry32), so both hedging modes see comparable simulator draws. */
function seeded(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function configOf(baseUrl, tier) {
  const text = stringify({
    router: { listen: "127.0.0.1:7400" },
    classifier: { listen: "127.0.0.1:7401" },
    health_monitor: { listen: "127.0.0.1:7402" },
    providers: { sim: { kind: "openai", base_url: `${baseUrl}/v1` } },
    tiers: { gold: { rank: 1, executor: { listen: "127.0.0.1:7410" }, ...tier } },
    plans: {},
  });
  return parseConfig(text, "bench.yaml", {});
}

function runnerFor(config) {
  const providers = createProviders(config, ["gold"], {});
  let reported = 0;
  const runner = new TierRunner({ tierName: "gold", tier: config.tiers.gold, providers, report: () => reported++ });
  return { runner, close: () => Promise.all([...providers.values()].map((p) => p.close())) };
}

const PRICE = { input_per_mtok: 5, output_per_mtok: 15 };
const messages = [{ role: "user", content: "benchmark prompt of a typical short size" }];
const input = create(CompletionInputSchema, { messages, maxTokens: 4 });
const request = { input, probe: false, tenant: "bench", maxAttempts: 0 };

/** Runs one request through the runner to its end; resolves to the RunResult. */
async function viaRunner(runner, timeoutMs = 30_000) {
  const run = runner.run(request, { deadline: Date.now() + timeoutMs, signal: new AbortController().signal });
  for (;;) {
    const step = await run.next();
    if (step.done) return step.value;
  }
}

// ---------------------------------------------------------------------------------------
// (a) executor overhead

async function overhead() {
  const zero = { ttft_ms: { median: 0, p99: 0 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 4, max: 4 } };
  const sim = createSimulator(simulatorConfigSchema.parse({ models: { "sim-zero": zero } }));
  const url = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
  const { runner, close } = runnerFor(configOf(url, { models: [{ provider: "sim", model: "sim-zero", price: PRICE }] }));
  // The exact body and headers the OpenAI adapter sends for `request`.
  const body = JSON.stringify({ model: "sim-zero", messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } });
  const pool = new Pool(url, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
  const direct = async () => {
    const res = await pool.request({
      path: "/v1/chat/completions",
      method: "POST",
      headers: { "content-type": "application/json", accept: "text/event-stream" },
      body,
    });
    if (res.statusCode !== 200) throw new Error(`direct call: HTTP ${res.statusCode}`);
    for await (const _ of res.body);
  };
  const runnerCall = () => viaRunner(runner);
  const timed = async (call) => {
    const samples = new Array(CALLS);
    for (let i = 0; i < CALLS; i++) {
      const t0 = performance.now();
      await call();
      samples[i] = performance.now() - t0;
    }
    return percentiles(samples);
  };

  try {
    for (let i = 0; i < 500; i++) {
      await direct();
      await runnerCall();
    }
    const rows = [];
    for (let r = 0; r < RUNS; r++) {
      const base = await timed(direct);
      const full = await timed(runnerCall);
      rows.push({ base, full });
      console.log(
        `  run ${r + 1}: direct p50 ${ms(base.p50)} p99 ${ms(base.p99)} | runner p50 ${ms(full.p50)} p99 ${ms(full.p99)} | ` +
          `overhead p50 ${ms(full.p50 - base.p50)} p99 ${ms(full.p99 - base.p99)}`,
      );
    }
    return {
      direct: { p50: median(rows.map((x) => x.base.p50)), p99: median(rows.map((x) => x.base.p99)) },
      runner: { p50: median(rows.map((x) => x.full.p50)), p99: median(rows.map((x) => x.full.p99)) },
      p50: median(rows.map((x) => x.full.p50 - x.base.p50)),
      p99: median(rows.map((x) => x.full.p99 - x.base.p99)),
    };
  } finally {
    await pool.close();
    await close();
    await sim.close();
  }
}

// ---------------------------------------------------------------------------------------
// (b) hedging on a heavy-tailed model

const HEAVY = { ttft_ms: { median: 40, p99: 800 }, inter_token_ms: { median: 1, p99: 3 }, output_tokens: { min: 4, max: 4 } };

/** REQUESTS requests, CONCURRENCY at a time, through a fresh runner (fresh budgets). */
async function hedgeRun(hedge, seed) {
  const sim = createSimulator(simulatorConfigSchema.parse({ models: { "sim-gold": HEAVY } }), { random: seeded(seed) });
  const url = `http://127.0.0.1:${await sim.listen(0, "127.0.0.1")}`;
  const { runner, close } = runnerFor(
    configOf(url, {
      // Two deployments of the same model, so a hedge goes to the other one.
      models: [
        { id: "gold-1", provider: "sim", model: "sim-gold", price: PRICE },
        { id: "gold-2", provider: "sim", model: "sim-gold", price: PRICE },
      ],
      timeouts: { attempt_ms: 30_000, ttft_ms: 30_000 }, // no timeouts: only hedges add attempts
      hedge,
    }),
  );
  const latencies = [];
  let attempts = 0;
  let hedged = 0;
  let errors = 0;
  let next = 0;
  const worker = async () => {
    while (next < REQUESTS) {
      next++;
      const t0 = performance.now();
      try {
        const result = await viaRunner(runner);
        latencies.push(performance.now() - t0);
        attempts += result.attempts;
        if (result.hedged) hedged++;
      } catch {
        errors++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    await close();
    await sim.close();
  }
  const overDelay = latencies.filter((l) => l > HEDGE_DELAY_MS).length / latencies.length;
  return { ...percentiles(latencies), extraShare: (attempts - latencies.length) / REQUESTS, hedged, errors, overDelay };
}

async function hedging() {
  const modes = {
    off: { enabled: false },
    [`on, delay ${HEDGE_DELAY_MS} ms`]: { enabled: true, delay_ms: HEDGE_DELAY_MS, max_extra_ratio: MAX_EXTRA_RATIO },
    "on, delay = tier p95": { enabled: true, delay_ms: 0, max_extra_ratio: MAX_EXTRA_RATIO },
  };
  const results = Object.fromEntries(Object.keys(modes).map((m) => [m, []]));
  for (let r = 0; r < HEDGE_RUNS; r++) {
    for (const [name, hedge] of Object.entries(modes)) {
      const x = await hedgeRun(hedge, 1_000 + r);
      results[name].push(x);
      console.log(
        `  run ${r + 1} ${name.padEnd(20)} p50 ${ms(x.p50)} p99 ${ms(x.p99)} | hedged ${x.hedged}/${REQUESTS} | ` +
          `extra attempts ${(100 * x.extraShare).toFixed(1)}% | errors ${x.errors}`,
      );
    }
  }
  return Object.fromEntries(
    Object.entries(results).map(([name, xs]) => [
      name,
      {
        p50: median(xs.map((x) => x.p50)),
        p99: median(xs.map((x) => x.p99)),
        extraShare: median(xs.map((x) => x.extraShare)),
        maxExtraShare: Math.max(...xs.map((x) => x.extraShare)),
        errors: xs.reduce((n, x) => n + x.errors, 0),
        overDelay: median(xs.map((x) => x.overDelay)),
      },
    ]),
  );
}

// ---------------------------------------------------------------------------------------

const started = performance.now();
console.log(`(a) executor overhead: ${CALLS} sequential streaming calls per path per run, ${RUNS} runs`);
const o = await overhead();
console.log(
  `\n(a) median of ${RUNS} runs: direct p50 ${ms(o.direct.p50)} p99 ${ms(o.direct.p99)}; runner p50 ${ms(o.runner.p50)} p99 ${ms(o.runner.p99)}\n` +
    `    TierRunner.run overhead per request: p50 ${ms(o.p50)}, p99 ${ms(o.p99)}\n`,
);

console.log(
  `(b) hedging: simulated gold model ttft median ${HEAVY.ttft_ms.median} ms p99 ${HEAVY.ttft_ms.p99} ms, 2 deployments, ` +
    `${REQUESTS} requests at concurrency ${CONCURRENCY}, max_extra_ratio ${MAX_EXTRA_RATIO}, ${HEDGE_RUNS} runs`,
);
const h = await hedging();
const off = h.off;
console.log(`\n(b) median of ${HEDGE_RUNS} runs:`);
for (const [name, x] of Object.entries(h)) {
  const ratio = name === "off" ? "" : ` | p99 off/on ${(off.p99 / x.p99).toFixed(2)}x`;
  const within = x.maxExtraShare <= MAX_EXTRA_RATIO + 1e-9;
  const cost =
    name === "off"
      ? ""
      : ` | extra attempts ${(100 * x.extraShare).toFixed(1)}% of requests (worst run ${(100 * x.maxExtraShare).toFixed(1)}%, limit ${100 * MAX_EXTRA_RATIO}%: ${within ? "OK" : "EXCEEDED"})`;
  console.log(`    hedging ${name.padEnd(20)} p50 ${ms(x.p50)} p99 ${ms(x.p99)}${ratio}${cost}${x.errors ? ` | errors ${x.errors}` : ""}`);
}
console.log(
  `    without hedging ${(100 * off.overDelay).toFixed(0)}% of requests take over ${HEDGE_DELAY_MS} ms; with a budget of ${100 * MAX_EXTRA_RATIO}% ` +
    `the hedges go to the first of them, so a fixed delay below the tail spends the budget before the slowest requests come.`,
);
console.log(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`);

// Added latency of the whole mesh (client → router → classifier → executor → provider)
// against calling the provider directly, at a fixed request rate, on this machine.
// Usage: npm run bench [-- --rate 500 --seconds 5 --runs 3]
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { Pool } from "undici";
import { createClient } from "@connectrpc/connect";
import { launchMesh } from "@tiermesh/cli";
import { loadConfig } from "@tiermesh/config";
import { freePort } from "@tiermesh/process";
import { RouterService } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";

const { values } = parseArgs({
  options: { rate: { type: "string", default: "500" }, seconds: { type: "string", default: "5" }, runs: { type: "string", default: "3" } },
});
const rate = Number(values.rate);
const seconds = Number(values.seconds);
const runs = Number(values.runs);

const hp = async () => `127.0.0.1:${await freePort()}`;
const sim = await hp();
const raw = {
  log: { level: "warn" },
  router: { listen: await hp(), anonymous_tenant: "bench" },
  classifier: { listen: await hp() },
  health_monitor: { listen: await hp(), probe: { interval_ms: 1000 } },
  providers: { sim: { kind: "openai", base_url: `http://${sim}/v1` } },
  tiers: {
    gold: { rank: 1, executor: { listen: await hp() }, models: [{ provider: "sim", model: "sim-zero", price: { input_per_mtok: 1, output_per_mtok: 1 } }] },
  },
  plans: { p: { default_tier: "gold", max_tier: "gold" } },
  tenants: { bench: { plan: "p" } },
  simulator: {
    listen: sim,
    models: { "sim-zero": { ttft_ms: { median: 0, p99: 0 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 4, max: 4 } } },
  },
};
const dir = mkdtempSync(join(tmpdir(), "tiermesh-bench-"));
const file = join(dir, "bench.yaml");
writeFileSync(file, stringify(raw));
const mesh = await launchMesh({ configFile: file, config: loadConfig(file, {}) });

const messages = [{ role: "user", content: "benchmark prompt of a typical short size" }];
const pool = new Pool(`http://${sim}`, { connections: 64 });
async function direct() {
  const res = await pool.request({
    path: "/v1/chat/completions",
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "sim-zero", messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } }),
  });
  for await (const _ of res.body);
}
const router = createClient(RouterService, createMeshTransport(`http://${raw.router.listen}`));
async function viaMesh() {
  await router.complete({ input: { messages, maxTokens: 4 } });
}

/** Open-loop load: starts `rate` calls per second for `seconds`, returns latencies in ms. */
async function load(call) {
  const total = rate * seconds;
  const latencies = [];
  let errors = 0;
  const inflight = [];
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    inflight.push(call().then(() => latencies.push(performance.now() - t0), () => errors++));
  }
  await Promise.all(inflight);
  latencies.sort((a, b) => a - b);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  return { p50: pct(50), p99: pct(99), errors, achieved: total / ((performance.now() - start) / 1000) };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
try {
  // Warm up connections and JIT on both paths.
  for (let i = 0; i < 300; i++) await Promise.all([direct(), viaMesh()]);
  const results = [];
  for (let r = 0; r < runs; r++) {
    const base = await load(direct);
    const full = await load(viaMesh);
    results.push({ base, full });
    console.log(
      `run ${r + 1}: direct p50 ${base.p50.toFixed(2)} ms p99 ${base.p99.toFixed(2)} ms | mesh p50 ${full.p50.toFixed(2)} ms p99 ${full.p99.toFixed(2)} ms | ` +
        `added p50 ${(full.p50 - base.p50).toFixed(2)} ms p99 ${(full.p99 - base.p99).toFixed(2)} ms | errors ${base.errors + full.errors} | rate ${full.achieved.toFixed(0)}/s`,
    );
  }
  const addedP50 = median(results.map((x) => x.full.p50 - x.base.p50));
  const addedP99 = median(results.map((x) => x.full.p99 - x.base.p99));
  const ratioP99 = median(results.map((x) => x.full.p99 / x.base.p99));
  console.log(`\nmedian of ${runs} runs at ${rate} req/s for ${seconds} s: added latency p50 ${addedP50.toFixed(2)} ms, p99 ${addedP99.toFixed(2)} ms (mesh/direct p99 ratio ${ratioP99.toFixed(2)})`);
  console.log(`targets: p50 <= 1 ms, p99 <= 3 ms`);
} finally {
  await pool.close();
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
}

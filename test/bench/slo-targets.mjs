// Measures the health monitor's and router's reaction targets on a real mesh (loopback):
// outage → routing change, latency breach → degraded, event delivery monitor → NATS →
// subscribers, convergence of two router replicas, and flapping under a noisy provider.
// Usage: node test/bench/slo-targets.mjs [--noisy-seconds 60]
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { createClient } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { launchMesh } from "@tiermesh/cli";
import { loadConfig } from "@tiermesh/config";
import { freePort, spawnServiceProcess } from "@tiermesh/process";
import { RouterService, TierState } from "@tiermesh/proto";
import { createMeshTransport, waitForServing } from "@tiermesh/runtime";
import { decodeStatus } from "@tiermesh/tier-status";

const { values } = parseArgs({ options: { "noisy-seconds": { type: "string", default: "60" } } });
const noisySeconds = Number(values["noisy-seconds"]);
const root = fileURLToPath(new URL("../../", import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const hp = async () => `127.0.0.1:${await freePort()}`;
const sim = await hp();
const model = (ttft) => ({
  ttft_ms: { median: ttft, p99: ttft * 3 },
  inter_token_ms: { median: 0, p99: 0 },
  output_tokens: { min: 4, max: 8 },
});
const tier = async (rank, m, extra = {}) => ({
  rank,
  executor: { listen: await hp() },
  models: [{ provider: "sim", model: m, price: { input_per_mtok: rank, output_per_mtok: rank } }],
  slo: { window_ms: 5_000, min_samples: 20, ttft_p95_ms: 300, consecutive_failures_down: 3, recovery_successes: 3, min_dwell_ms: 2_000 },
  routing: { sticky_ms: 0, return_steps: [1], return_step_ms: 100 },
  ...extra,
});
const raw = {
  log: { level: "warn" },
  router: { listen: await hp(), anonymous_tenant: "bench", status_ttl_ms: 10_000 },
  classifier: { listen: await hp() },
  health_monitor: { listen: await hp(), evaluate_interval_ms: 50, heartbeat_ms: 1_000, probe: { interval_ms: 500 } },
  providers: { sim: { kind: "openai", base_url: `http://${sim}/v1` } },
  tiers: { gold: await tier(2, "sim-gold", { fallback: "bronze" }), bronze: await tier(1, "sim-bronze") },
  plans: { p: { default_tier: "gold", max_tier: "gold" } },
  tenants: { bench: { plan: "p" } },
  simulator: { listen: sim, models: { "sim-gold": model(20), "sim-bronze": model(40) } },
};
const dir = mkdtempSync(join(tmpdir(), "tiermesh-slo-"));
const file = join(dir, "slo.yaml");
writeFileSync(file, stringify(raw));
const mesh = await launchMesh({ configFile: file, config: loadConfig(file, {}) });
const admin = (patch) =>
  fetch(`http://${sim}/admin/models/sim-gold`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });

// A second router replica, to check that replicas converge.
const secondRouter = await hp();
const file2 = join(dir, "router2.yaml");
writeFileSync(file2, stringify({ ...raw, router: { ...raw.router, listen: secondRouter } }));
const router2 = spawnServiceProcess({
  name: "router-2",
  command: process.execPath,
  args: [join(root, "services/router/dist/main.js"), "--config", file2],
  env: { ...process.env, TIERMESH_NATS_URL: mesh.natsUrl },
});
await waitForServing(`http://${secondRouter}`, 10_000);

const nc = await connect({ servers: mesh.natsUrl });
const events = [];
nc.subscribe("tiermesh.status.*", { callback: (_e, msg) => events.push({ e: decodeStatus(msg.data), at: Date.now() }) });
const waitEvent = async (tierName, state, since, timeout = 20_000) => {
  const until = Date.now() + timeout;
  for (;;) {
    const hit = events.find((x) => x.at >= since && x.e.tier === tierName && x.e.state === state);
    if (hit) return hit;
    if (Date.now() > until) throw new Error(`no ${TierState[state]} for ${tierName}`);
    await sleep(5);
  }
};

// Event delivery with no request traffic: heartbeats only, for 5 s.
await sleep(5_000);
const quietDelivery = events.map((x) => x.at - Number(x.e.atMs));
const quietCount = events.length;

const router = createClient(RouterService, createMeshTransport(`http://${raw.router.listen}`));
const served = [];
let running = true;
const RATE = 60;
const traffic = (async () => {
  const started = performance.now();
  let i = 0;
  const inflight = new Set();
  while (running) {
    const due = started + (i++ * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const t0 = Date.now();
    const p = router.complete({ input: { messages: [{ role: "user", content: "hi" }], maxTokens: 4, user: `u${i % 50}` } }).then(
      (r) => served.push({ t0, served: r.routing.servedTier, reasons: r.routing.reasons }),
      () => served.push({ t0, failed: true }),
    );
    inflight.add(p);
    p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
})();

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
try {
  await sleep(3_000);
  // 1. Full outage under 60 req/s: time from the outage to the DOWN event and to the first request routed by it.
  const reactions = [];
  for (let run = 0; run < 3; run++) {
    const outageAt = Date.now();
    await admin({ outage: true });
    const down = await waitEvent("gold", TierState.DOWN, outageAt);
    await sleep(1_000);
    const firstRouted = served
      .filter((r) => r.t0 >= outageAt && r.reasons?.some((x) => x.startsWith("gold is down")))
      .sort((a, b) => a.t0 - b.t0)[0];
    reactions.push({ event: down.at - outageAt, routed: firstRouted ? firstRouted.t0 - outageAt : NaN });
    await admin({ outage: false });
    await waitEvent("gold", TierState.HEALTHY, Date.now(), 30_000);
    await sleep(500);
  }
  console.log(
    `outage → DOWN event: ${reactions.map((r) => r.event).join(", ")} ms (median ${median(reactions.map((r) => r.event))} ms); ` +
      `→ first request routed away: ${reactions.map((r) => r.routed).join(", ")} ms (median ${median(reactions.map((r) => r.routed))} ms) [target 250 ms]`,
  );

  // 2. Latency breach: time to DEGRADED against the fast window (5 s).
  const breachAt = Date.now();
  await admin({ ttft_ms: { median: 600, p99: 900 } });
  const degraded = await waitEvent("gold", TierState.DEGRADED, breachAt).catch(() => undefined);
  const states = events
    .filter((x) => x.at >= breachAt && x.e.tier === "gold" && x.e.state !== x.e.previousState)
    .map((x) => `${TierState[x.e.state]} +${x.at - breachAt} ms`);
  console.log(
    degraded
      ? `TTFT breach → DEGRADED: ${degraded.at - breachAt} ms (${degraded.e.reason}) [target: within one fast window, 5000 ms]; gold's states: ${states.join(", ")}`
      : `TTFT breach → no DEGRADED within 20 s; gold's states: ${states.join(", ") || "none"} [target: DEGRADED within 5000 ms]`,
  );
  await admin({ ttft_ms: { median: 20, p99: 60 } });
  await waitEvent("gold", TierState.HEALTHY, Date.now(), 30_000);

  // 3. Event delivery monitor → NATS → subscriber (heartbeats and changes), same clock.
  const delivery = events.slice(quietCount).map((x) => x.at - Number(x.e.atMs));
  console.log(
    `event delivery monitor → NATS → subscriber: quiet ${quietDelivery.length} events p50 ${pct(quietDelivery, 50)} ms p99 ${pct(quietDelivery, 99)} ms; ` +
      `under 60 req/s ${delivery.length} events p50 ${pct(delivery, 50)} ms p99 ${pct(delivery, 99)} ms [target p99 < 10 ms]`,
  );

  // 4. Router replicas converge on the same view.
  const stateOf = async (url) =>
    ((await (await fetch(`${url}/metrics`)).text()).match(
      /tiermesh_router_tier_state\{tier="gold",source="[a-z-]+",service="router"\} \d/,
    ) ?? [""])[0];
  const views = [await stateOf(`http://${raw.router.listen}`), await stateOf(`http://${secondRouter}`)];
  console.log(`router replicas' view of gold: ${views.join(" | ")} → ${views[0] === views[1] ? "converged" : "DIFFERENT"}`);

  // 5. Noisy but healthy: TTFT jitter near the 300 ms threshold.
  const noisyAt = Date.now();
  await admin({ ttft_ms: { median: 170, p99: 290 } });
  await sleep(noisySeconds * 1_000);
  const changes = events.filter(
    (x) => x.at >= noisyAt && x.e.tier === "gold" && x.e.state !== x.e.previousState && x.e.previousState !== 0,
  );
  const per5min = (changes.length * 300) / noisySeconds;
  console.log(
    `noisy provider (TTFT median 170 ms, p99 290 ms vs SLO p95 300 ms) for ${noisySeconds} s: ${changes.length} state changes (${per5min.toFixed(1)} per 5 min) [target ≤ 1 per 5 min]`,
  );
  const failed = served.filter((r) => r.failed).length;
  console.log(`requests: ${served.length}, failed: ${failed}`);
} finally {
  running = false;
  await traffic;
  await nc.close();
  await router2.stop();
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
}

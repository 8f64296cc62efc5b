// The three things measured: the simulated provider alone, the multi-process mesh and the
// one-process mode, each started on fresh loopback ports and stopped before the next.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { launchMesh } from "@tiermesh/cli";
import { loadConfig } from "@tiermesh/config";
import { freePort, spawnServiceProcess, waitForPort } from "@tiermesh/process";
import { RouterService } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { Pool } from "undici";
import { stringify } from "yaml";
import { childPids } from "./proc-stats.mjs";

export const MODES = ["provider", "multi-process", "one-process"];

const MODEL = "sim-zero";
const messages = [{ role: "user", content: "benchmark prompt of a typical short size" }];

/** One tier, one zero-latency simulated model answering 4 tokens, an anonymous tenant. */
async function writeConfig() {
  const hp = async () => `127.0.0.1:${await freePort()}`;
  const sim = await hp();
  const raw = {
    log: { level: "warn" },
    router: { listen: await hp(), anonymous_tenant: "bench" },
    classifier: { listen: await hp() },
    health_monitor: { listen: await hp(), probe: { interval_ms: 1_000 } },
    providers: { sim: { kind: "openai", base_url: `http://${sim}/v1` } },
    tiers: {
      gold: {
        rank: 1,
        executor: { listen: await hp() },
        models: [{ provider: "sim", model: MODEL, price: { input_per_mtok: 1, output_per_mtok: 1 } }],
      },
    },
    plans: { p: { default_tier: "gold", max_tier: "gold" } },
    tenants: { bench: { plan: "p" } },
    simulator: {
      listen: sim,
      models: { [MODEL]: { ttft_ms: { median: 0, p99: 0 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 4, max: 4 } } },
    },
  };
  const dir = mkdtempSync(join(tmpdir(), "tiermesh-bench-"));
  const file = join(dir, "bench.yaml");
  writeFileSync(file, stringify(raw));
  return { dir, file, raw };
}

/** POST /v1/chat/completions, non-streaming, over a keep-alive pool; rejects unless 200. */
function chatCaller(baseUrl, model, connections) {
  const pool = new Pool(baseUrl, { connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = JSON.stringify({ model, messages, max_tokens: 4 });
  const call = async () => {
    const res = await pool.request({ path: "/v1/chat/completions", method: "POST", headers: { "content-type": "application/json" }, body });
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 80)}`);
    for await (const _ of res.body);
  };
  return { call, close: () => pool.destroy() };
}

/**
 * Starts a mode. Returns its processes ({ name, pid }, the simulator included), `edge` (the
 * OpenAI-compatible path) and, for the mesh modes, `rpc` (the Router RPC), and `stop`.
 */
export async function startMode(mode, { connections, onLine }) {
  const { dir, file, raw } = await writeConfig();
  const closers = [];
  const stop = async () => {
    for (const close of closers.reverse()) await close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (mode === "provider") {
      const proc = spawnServiceProcess({
        name: "simulator",
        command: process.execPath,
        args: [fileURLToPath(import.meta.resolve("@tiermesh/simulator/main")), "--config", file],
        ...(onLine ? { onLine } : {}),
      });
      closers.push(() => proc.stop());
      await Promise.race([
        waitForPort(Number(raw.simulator.listen.split(":")[1]), 15_000),
        proc.exited.then((code) => Promise.reject(new Error(`simulator exited (${code}): ${proc.lines.slice(-3).join(" | ")}`))),
      ]);
      const edge = chatCaller(`http://${raw.simulator.listen}`, MODEL, connections);
      closers.push(edge.close);
      return { processes: [{ name: "simulator", pid: proc.child.pid }], edge: edge.call, stop };
    }
    const mesh = await launchMesh({
      configFile: file,
      config: loadConfig(file, {}),
      singleProcess: mode === "one-process",
      ...(onLine ? { onLine } : {}),
    });
    closers.push(() => mesh.stop());
    const processes = [...mesh.processes.values()].map((p) => ({ name: p.name, pid: p.child.pid }));
    for (const pid of childPids("nats-server")) processes.push({ name: "nats-server", pid });
    const edge = chatCaller(`http://${raw.router.listen}`, "", connections);
    closers.push(edge.close);
    const router = createClient(RouterService, createMeshTransport(`http://${raw.router.listen}`));
    const rpc = async () => void (await router.complete({ input: { messages, maxTokens: 4 } }, { timeoutMs: 10_000 }));
    return { processes, edge: edge.call, rpc, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "@tiermesh/process";

export interface TestTier {
  name: string;
  rank: number;
  fallback?: string;
  model: string;
  slo?: Record<string, number>;
  routing?: Record<string, unknown>;
  bulkhead?: Record<string, number>;
  timeouts?: Record<string, number>;
  retries?: Record<string, number>;
}

export interface TestMeshConfig {
  file: string;
  dir: string;
  routerUrl: string;
  monitorUrl: string;
  /** Where `tiermesh up` answers `tiermesh status`. */
  launcherUrl: string;
  classifierUrl: string;
  simulatorUrl: string;
  executorUrls: Record<string, string>;
  raw: Record<string, unknown>;
}

const defaultTiers: TestTier[] = [
  { name: "gold", rank: 3, fallback: "silver", model: "sim-gold" },
  { name: "silver", rank: 2, fallback: "bronze", model: "sim-silver" },
  { name: "bronze", rank: 1, model: "sim-bronze" },
];

/** Writes a mesh config with free loopback ports and fast simulated models into a temp dir. */
export async function writeMeshConfig(
  options: { tiers?: TestTier[]; patch?: (raw: Record<string, any>) => void } = {},
): Promise<TestMeshConfig> {
  const tiers = options.tiers ?? defaultTiers;
  const hp = async () => `127.0.0.1:${await freePort()}`;
  const [router, classifier, monitor, simulator, launcher] = [await hp(), await hp(), await hp(), await hp(), await hp()];
  const executors: Record<string, string> = {};
  for (const t of tiers) executors[t.name] = await hp();
  const top = tiers[0]!.name;
  const raw: Record<string, any> = {
    log: { level: "warn" },
    router: { listen: router, anonymous_tenant: "acme", status_ttl_ms: 15_000 },
    classifier: {
      listen: classifier,
      rules: tiers.some((t) => t.name === "bronze") ? [{ id: "batch-to-bronze", when: { urgencies: ["batch"] }, tier: "bronze" }] : [],
    },
    health_monitor: { listen: monitor, evaluate_interval_ms: 50, heartbeat_ms: 1_000, probe: { interval_ms: 200, timeout_ms: 2_000 } },
    launcher: { listen: launcher },
    providers: { sim: { kind: "openai", base_url: `http://${simulator}/v1` } },
    tiers: Object.fromEntries(
      tiers.map((t) => [
        t.name,
        {
          rank: t.rank,
          ...(t.fallback ? { fallback: t.fallback } : {}),
          executor: { listen: executors[t.name] },
          models: [{ provider: "sim", model: t.model, price: { input_per_mtok: t.rank, output_per_mtok: t.rank * 3 } }],
          timeouts: t.timeouts ?? { attempt_ms: 5_000, ttft_ms: 2_000 },
          retries: t.retries ?? { max_attempts: 2, backoff_ms: 5 },
          slo: t.slo ?? { window_ms: 5_000, min_samples: 20, consecutive_failures_down: 3, recovery_successes: 3, min_dwell_ms: 1_000 },
          routing: t.routing ?? { sticky_ms: 0, return_steps: [0.25, 0.5, 1], return_step_ms: 1_000 },
          ...(t.bulkhead ? { bulkhead: t.bulkhead } : {}),
        },
      ]),
    ),
    plans: { enterprise: { default_tier: top, max_tier: top } },
    tenants: { acme: { plan: "enterprise" } },
    simulator: {
      listen: simulator,
      models: Object.fromEntries(
        tiers.map((t) => [
          t.model,
          { ttft_ms: { median: 5, p99: 20 }, inter_token_ms: { median: 0, p99: 0 }, output_tokens: { min: 8, max: 16 } },
        ]),
      ),
    },
  };
  options.patch?.(raw);
  const dir = mkdtempSync(join(tmpdir(), "tiermesh-test-"));
  const file = join(dir, "tiermesh.yaml");
  writeFileSync(file, stringify(raw));
  return {
    file,
    dir,
    raw,
    routerUrl: `http://${router}`,
    monitorUrl: `http://${monitor}`,
    launcherUrl: `http://${launcher}`,
    classifierUrl: `http://${classifier}`,
    simulatorUrl: `http://${simulator}`,
    executorUrls: Object.fromEntries(Object.entries(executors).map(([k, v]) => [k, `http://${v}`])),
  };
}

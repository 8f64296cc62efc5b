import { rmSync } from "node:fs";
import { launchMesh, type Mesh } from "@tiermesh/cli";
import { loadConfig } from "@tiermesh/config";
import { writeMeshConfig, type TestMeshConfig } from "./mesh-config.js";

export interface RunningMesh extends TestMeshConfig {
  mesh: Mesh;
  /** Lines the services printed, for diagnosis. */
  output: string[];
  stop(): Promise<void>;
}

/**
 * Writes a config and starts nats-server plus every service as separate processes, or, when
 * TIERMESH_TEST_MESH is "one-process", the services together in one process (the simulator apart).
 */
export async function startMesh(options: Parameters<typeof writeMeshConfig>[0] = {}): Promise<RunningMesh> {
  const cfg = await writeMeshConfig(options);
  const output: string[] = [];
  const mesh = await launchMesh({
    configFile: cfg.file,
    config: loadConfig(cfg.file, {}),
    singleProcess: process.env["TIERMESH_TEST_MESH"] === "one-process",
    // Generous: several suites start meshes at once on a small machine.
    startTimeoutMs: 60_000,
    onLine: (name, line) => {
      output.push(`[${name}] ${line}`);
      if (output.length > 2_000) output.shift();
    },
  });
  return {
    ...cfg,
    mesh,
    output,
    async stop() {
      await mesh.stop();
      rmSync(cfg.dir, { recursive: true, force: true });
    },
  };
}

/** Changes a simulated model's profile at runtime through the simulator's admin API. */
export async function patchModel(simulatorUrl: string, model: string, patch: Record<string, unknown>): Promise<void> {
  const res = await fetch(`${simulatorUrl}/admin/models/${encodeURIComponent(model)}`, {
    method: "PATCH",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(patch),
  });
  if (!res.ok) throw new Error(`simulator admin: HTTP ${res.status}: ${await res.text()}`);
}

/** One request a simulated model received (simulator admin API). */
export interface SimRequest {
  at_ms: number;
  probe: boolean;
  max_tokens: number | null;
  answer: string;
}

/** Requests each simulated model received, counted apart for probes, with the latest ones. */
export async function simulatorRequests(
  simulatorUrl: string,
): Promise<Record<string, { requests: number; probes: number; recent: SimRequest[] }>> {
  const res = await fetch(`${simulatorUrl}/admin/requests`);
  if (!res.ok) throw new Error(`simulator admin: HTTP ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, { requests: number; probes: number; recent: SimRequest[] }>;
}

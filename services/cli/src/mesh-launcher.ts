import { fileURLToPath } from "node:url";
import { endpointUrl, type Config } from "@tiermesh/config";
import { spawnServiceProcess, startNatsServer, waitForPort, type NatsServer, type ServiceProcess } from "@tiermesh/process";
import { waitForServing } from "@tiermesh/runtime";

export interface MeshOptions {
  configFile: string;
  config: Config;
  /** Use this NATS server; when absent a private nats-server is started. */
  natsUrl?: string | undefined;
  /** Receives every line the services print. */
  onLine?: (service: string, line: string) => void;
  /** Longest wait for the whole mesh to be SERVING. */
  startTimeoutMs?: number;
  /** false: no health monitor, so no tier status; routers rely on their passive breakers. */
  healthMonitor?: boolean;
  /** true: classifier, executors, monitor and router in one process (`tiermesh run mesh`); the simulator apart. */
  singleProcess?: boolean;
}

export interface Mesh {
  readonly natsUrl: string;
  /** The private nats-server, when the launcher started one. */
  readonly nats: NatsServer | undefined;
  readonly processes: ReadonlyMap<string, ServiceProcess>;
  readonly endpoints: ReadonlyArray<{ name: string; url: string }>;
  /** Stops every process, router first, NATS last. */
  stop(): Promise<void>;
}

const mainOf = (pkg: string) => fileURLToPath(import.meta.resolve(`${pkg}/main`));

interface Planned {
  /** Processes of a stage start together once every earlier stage is SERVING. */
  stage: number;
  name: string;
  pkg: string;
  args: string[];
  /** gRPC base URL to health-check, or the simulator's host:port. */
  url: string;
  kind: "grpc" | "http";
}

/** The processes of a whole mesh, in start order (dependencies first). */
function plan(config: Config, configFile: string, healthMonitor: boolean, singleProcess: boolean): Planned[] {
  const base = ["--config", configFile];
  const list: Planned[] = [];
  const sim = config.simulator as { listen?: string } | undefined;
  if (sim?.listen) list.push({ stage: 0, name: "simulator", pkg: "@tiermesh/simulator", args: base, url: sim.listen, kind: "http" });
  if (singleProcess) {
    list.push({ stage: 1, name: "tiermesh", pkg: "@tiermesh/cli", args: ["run", "mesh", ...base], url: endpointUrl(config.router), kind: "grpc" });
    return list;
  }
  for (const [tier, t] of Object.entries(config.tiers)) {
    list.push({ stage: 0, name: `executor-${tier}`, pkg: "@tiermesh/tier-executor", args: [...base, "--tier", tier], url: endpointUrl(t.executor), kind: "grpc" });
  }
  // The monitor probes executors at once: start it when they serve, or its first probes fail.
  if (healthMonitor) list.push({ stage: 1, name: "health-monitor", pkg: "@tiermesh/health-monitor", args: base, url: endpointUrl(config.health_monitor), kind: "grpc" });
  list.push({ stage: 1, name: "classifier", pkg: "@tiermesh/classifier", args: base, url: endpointUrl(config.classifier), kind: "grpc" });
  list.push({ stage: 2, name: "router", pkg: "@tiermesh/router", args: base, url: endpointUrl(config.router), kind: "grpc" });
  return list;
}

/** Starts NATS (unless given), the simulated provider and every service as separate processes. */
export async function launchMesh(options: MeshOptions): Promise<Mesh> {
  const timeout = options.startTimeoutMs ?? 15_000;
  const nats = options.natsUrl ? undefined : await startNatsServer();
  const natsUrl = options.natsUrl ?? nats!.url;
  const processes = new Map<string, ServiceProcess>();
  const planned = plan(options.config, options.configFile, options.healthMonitor ?? true, options.singleProcess ?? false);
  const stop = async () => {
    for (const p of [...planned].reverse()) await processes.get(p.name)?.stop();
    await nats?.dispose();
  };
  try {
    const started = Date.now();
    for (const stage of [...new Set(planned.map((p) => p.stage))].sort()) {
      const batch = planned.filter((p) => p.stage === stage);
      for (const p of batch) {
        const proc = spawnServiceProcess({
          name: p.name,
          command: process.execPath,
          args: [...(process.env["TIERMESH_NODE_ARGS"]?.split(" ").filter(Boolean) ?? []), mainOf(p.pkg), ...p.args],
          env: { ...process.env, TIERMESH_NATS_URL: natsUrl },
          ...(options.onLine ? { onLine: (name: string, line: string) => options.onLine!(name, line) } : {}),
        });
        processes.set(p.name, proc);
      }
      await Promise.all(
        batch.map(async (p) => {
          const proc = processes.get(p.name)!;
          const left = Math.max(1, timeout - (Date.now() - started));
          const ready = p.kind === "grpc" ? waitForServing(p.url, left) : waitForPort(Number(p.url.split(":").pop()), left);
          const died = proc.exited.then((code) => {
            throw new Error(`${p.name} exited (${code}) during start: ${proc.lines.slice(-3).join(" | ")}`);
          });
          await Promise.race([ready, died]);
        }),
      );
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    natsUrl,
    nats,
    processes,
    endpoints: options.singleProcess
      ? [
          ...planned.filter((p) => p.kind === "http").map((p) => ({ name: p.name, url: `http://${p.url}` })),
          ...plan(options.config, options.configFile, options.healthMonitor ?? true, false)
            .filter((p) => p.kind === "grpc")
            .map((p) => ({ name: p.name, url: p.url })),
        ]
      : planned.map((p) => ({ name: p.name, url: p.kind === "grpc" ? p.url : `http://${p.url}` })),
    stop,
  };
}

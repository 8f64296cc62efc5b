import { fileURLToPath } from "node:url";
import { endpointUrl, type Config } from "@tiermesh/config";
import {
  spawnServiceProcess,
  startNatsServer,
  waitForPort,
  type NatsServer,
  type RestartBackoffOptions,
  type ServiceProcess,
} from "@tiermesh/process";
import { createLauncherLogger, waitForServing, type Logger } from "@tiermesh/runtime";
import { superviseNats, superviseService, type ProcessStatus, type SupervisedProcess } from "./supervised-process.js";

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
  /** Receives the launcher's own events (restarts); JSON on stdout by default. */
  logger?: Logger;
  /** Pacing of restarts of processes that die. */
  restartBackoff?: Partial<RestartBackoffOptions>;
}

export interface Mesh {
  readonly natsUrl: string;
  /** The private nats-server, when the launcher started one. */
  readonly nats: NatsServer | undefined;
  /** The process running each service now (a restart replaces the entry). */
  readonly processes: ReadonlyMap<string, ServiceProcess>;
  readonly endpoints: ReadonlyArray<{ name: string; url: string }>;
  /** Every supervised process, the private nats-server first, with its pid, state and restarts. */
  status(): ProcessStatus[];
  /** Ends supervision, then stops every process, router first, NATS last. */
  stop(): Promise<void>;
}

/**
 * Node flags for every process: TIERMESH_NODE_ARGS when set, else a small young generation
 * (4 MB semi-spaces instead of 16) and a 384 MB old-space limit: a loaded service's live heap
 * is about 30 MB, and with the default multi-gigabyte limit V8 lets garbage grow the old
 * generation to about four times that before collecting (a loaded executor held 140 MB of
 * anonymous memory instead of 70). The limit alone made the growth factor so small (about
 * 1.4) that a loaded router ran a major collection every 2 s, and each one is a cluster of
 * slow requests; hence a growth factor of 1.8 (`--heap-growing-percent=80`) and no memory
 * reducer (the collections V8 adds in quiet processes to shrink them, at random moments).
 * No allocation-site pretenuring either: V8 saw a request's objects outlive the young
 * generation (during a burst, say) and from then on allocated them in old space, where they
 * die and fill it; without it, at 200 req/s, an executor promoted 3.6 instead of 11 to 16 KB
 * per request and ran a major collection every 4,000 requests instead of every 800 to 1,300;
 * the mesh spent 5% less CPU per request (2 runs each, interleaved).
 * README: "Tail latency and the garbage collector".
 */
const DEFAULT_NODE_ARGS = [
  "--max-semi-space-size=4",
  "--max-old-space-size=384",
  "--heap-growing-percent=80",
  "--no-memory-reducer",
  "--no-allocation-site-pretenuring",
];
export const serviceNodeArgs = (): readonly string[] => process.env["TIERMESH_NODE_ARGS"]?.split(" ").filter(Boolean) ?? DEFAULT_NODE_ARGS;

/**
 * glibc's malloc, as services use it: two arenas instead of one per thread, and fixed mmap and
 * trim thresholds (128 KB, glibc's starting values), which glibc otherwise raises after the first
 * large block is freed, keeping up to tens of MB of freed native memory in RSS. One-process mode
 * after a minute at 300 req/s, 7 runs each: RSS 126 to 146 MB (median 129) instead of 134 to 165
 * (136), CPU per request within the runs' spread.
 */
export const serviceMallocEnv: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: "2",
  MALLOC_MMAP_THRESHOLD_: "131072",
  MALLOC_TRIM_THRESHOLD_: "131072",
};
const serviceEnv = (natsUrl: string): NodeJS.ProcessEnv => ({ ...serviceMallocEnv, ...process.env, TIERMESH_NATS_URL: natsUrl });

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
    list.push({
      stage: 1,
      name: "tiermesh",
      pkg: "@tiermesh/cli",
      args: ["run", "mesh", ...base],
      url: endpointUrl(config.router),
      kind: "grpc",
    });
    return list;
  }
  for (const [tier, t] of Object.entries(config.tiers)) {
    list.push({
      stage: 0,
      name: `executor-${tier}`,
      pkg: "@tiermesh/tier-executor",
      args: [...base, "--tier", tier],
      url: endpointUrl(t.executor),
      kind: "grpc",
    });
  }
  // The monitor probes executors at once: start it when they serve, or its first probes fail.
  if (healthMonitor)
    list.push({
      stage: 1,
      name: "health-monitor",
      pkg: "@tiermesh/health-monitor",
      args: base,
      url: endpointUrl(config.health_monitor),
      kind: "grpc",
    });
  list.push({ stage: 1, name: "classifier", pkg: "@tiermesh/classifier", args: base, url: endpointUrl(config.classifier), kind: "grpc" });
  list.push({ stage: 2, name: "router", pkg: "@tiermesh/router", args: base, url: endpointUrl(config.router), kind: "grpc" });
  return list;
}

/** Longest wait for a restarted service to answer before the launcher says it did not come back. */
const restartReadyMs = 60_000;

/** Resolves when the planned process answers: SERVING on grpc.health.v1, or its port open. */
function ready(p: Planned, timeoutMs: number): Promise<void> {
  return p.kind === "grpc" ? waitForServing(p.url, timeoutMs) : waitForPort(Number(p.url.split(":").pop()), timeoutMs);
}

/**
 * Starts NATS (unless given), the simulated provider and every service as separate processes,
 * and restarts any of them that dies, on the same address, so its peers reconnect.
 */
export async function launchMesh(options: MeshOptions): Promise<Mesh> {
  const timeout = options.startTimeoutMs ?? 30_000;
  const logger = options.logger ?? createLauncherLogger(options.config.log.level);
  const supervision = { logger, backoff: options.restartBackoff };
  const nats = options.natsUrl ? undefined : await startNatsServer();
  const natsUrl = options.natsUrl ?? nats!.url;
  const processes = new Map<string, ServiceProcess>();
  const supervised = new Map<string, SupervisedProcess>();
  if (nats) supervised.set("nats-server", superviseNats(nats, supervision));
  const planned = plan(options.config, options.configFile, options.healthMonitor ?? true, options.singleProcess ?? false);
  const spawn = (p: Planned) => () => {
    const proc = spawnServiceProcess({
      name: p.name,
      command: process.execPath,
      args: [...serviceNodeArgs(), mainOf(p.pkg), ...p.args],
      env: serviceEnv(natsUrl),
      ...(options.onLine ? { onLine: (name: string, line: string) => options.onLine!(name, line) } : {}),
    });
    processes.set(p.name, proc);
    return proc;
  };
  const stop = async () => {
    // No restarts once shutdown begins, whatever dies meanwhile.
    await Promise.all([...supervised.values()].map((s) => s.unsupervise()));
    for (const p of [...planned].reverse()) await supervised.get(p.name)?.stop();
    await supervised.get("nats-server")?.stop();
  };
  try {
    const started = Date.now();
    for (const stage of [...new Set(planned.map((p) => p.stage))].sort()) {
      const batch = planned.filter((p) => p.stage === stage);
      for (const p of batch)
        supervised.set(
          p.name,
          superviseService(p.name, spawn(p), () => ready(p, restartReadyMs), supervision),
        );
      await Promise.all(
        batch.map(async (p) => {
          const proc = processes.get(p.name)!;
          const left = Math.max(1, timeout - (Date.now() - started));
          const died = proc.exited.then((code) => {
            throw new Error(`${p.name} exited (${code}) during start: ${proc.lines.slice(-3).join(" | ")}`);
          });
          await Promise.race([ready(p, left), died]);
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
    status: () => [...supervised.values()].map((s) => s.status()),
    stop,
  };
}

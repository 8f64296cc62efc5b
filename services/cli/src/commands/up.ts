import { loadConfig } from "@tiermesh/config";
import { LauncherService } from "@tiermesh/proto";
import { createLauncherLogger, createRpcServer } from "@tiermesh/runtime";
import { createLauncherService } from "../launcher-service.js";
import { launchMesh, type Mesh } from "../mesh-launcher.js";
import { UsageError } from "../usage-error.js";
import { upSummary } from "./up-summary.js";

export const upUsage =
  "tiermesh up [--config deploy/tiermesh.example.yaml] [--nats <url>] [--single-process] [--start-timeout <seconds>] [--quiet]";

/** Runs the whole mesh in the foreground, restarting services that die, until Ctrl-C. */
export async function up(values: {
  config?: string | undefined;
  nats?: string | undefined;
  quiet?: boolean | undefined;
  "single-process"?: boolean | undefined;
  "start-timeout"?: string | undefined;
}): Promise<void> {
  const startTimeoutMs = startTimeoutOf(values["start-timeout"]);
  const configFile = values.config ?? "deploy/tiermesh.example.yaml";
  const config = loadConfig(configFile);
  const started = performance.now();
  const logger = createLauncherLogger(config.log.level);
  let mesh: Mesh | undefined;
  // `tiermesh status` asks here; it listens first so a busy port fails before anything starts.
  const rpc = createRpcServer({
    logger,
    serviceNames: [LauncherService.typeName],
    routes(router) {
      router.service(LauncherService, createLauncherService({ natsUrl: () => mesh?.natsUrl ?? "", status: () => mesh?.status() ?? [] }));
    },
  });
  await rpc.listen(config.launcher.listen);
  try {
    mesh = await launchMesh({
      configFile,
      config,
      logger,
      natsUrl: values.nats ?? process.env["TIERMESH_NATS_URL"],
      singleProcess: values["single-process"] ?? false,
      ...(startTimeoutMs !== undefined ? { startTimeoutMs } : {}),
      onLine: (name, line) => {
        if (!values.quiet) process.stdout.write(`[${name}] ${line}\n`);
      },
    });
  } catch (err) {
    await rpc.close(0);
    throw err;
  }
  const running = mesh;
  const lines = upSummary({
    tookSeconds: (performance.now() - started) / 1_000,
    configFile,
    singleProcess: values["single-process"] ?? false,
    natsUrl: running.natsUrl,
    privateNats: running.nats !== undefined,
    endpoints: running.endpoints,
    launcherListen: config.launcher.listen,
  });
  process.stdout.write(`${lines.join("\n")}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("stopping tiermesh...\n");
    running
      .stop()
      .then(() => rpc.close(1_000))
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`stop failed: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

function startTimeoutOf(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (!(seconds > 0) || !Number.isFinite(seconds))
    throw new UsageError(`--start-timeout: expected a number of seconds above 0, got "${value}"`);
  return seconds * 1_000;
}

import { loadConfig } from "@tiermesh/config";
import { launchMesh } from "../mesh-launcher.js";

export const upUsage = "tiermesh up [--config deploy/tiermesh.example.yaml] [--nats <url>] [--single-process] [--quiet]";

/** Runs the whole mesh in the foreground until Ctrl-C. */
export async function up(values: {
  config?: string | undefined;
  nats?: string | undefined;
  quiet?: boolean | undefined;
  "single-process"?: boolean | undefined;
}): Promise<void> {
  const configFile = values.config ?? "deploy/tiermesh.example.yaml";
  const config = loadConfig(configFile);
  const started = performance.now();
  const mesh = await launchMesh({
    configFile,
    config,
    natsUrl: values.nats ?? process.env["TIERMESH_NATS_URL"],
    singleProcess: values["single-process"] ?? false,
    onLine: (name, line) => {
      if (!values.quiet) process.stdout.write(`[${name}] ${line}\n`);
    },
  });
  const took = ((performance.now() - started) / 1_000).toFixed(1);
  const lines = [
    `tiermesh is up in ${took} s (config ${configFile}${values["single-process"] ? ", one process" : ""})`,
    `  nats            ${mesh.natsUrl}${mesh.nats ? " (private nats-server)" : ""}`,
    ...mesh.endpoints.map((e) => `  ${e.name.padEnd(15)} ${e.url}`),
    "",
    "First request (Connect JSON over HTTP):",
    `  curl -s ${mesh.endpoints.find((e) => e.name === "router")!.url}/tiermesh.router.v1.RouterService/Complete \\`,
    `    -H 'content-type: application/json' \\`,
    `    -d '{"input":{"messages":[{"role":"user","content":"Hello"}],"urgency":"interactive"}}'`,
    "",
    "Ctrl-C stops everything.",
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write("stopping tiermesh...\n");
    mesh.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  for (const [name, proc] of mesh.processes) {
    void proc.exited.then((code) => {
      if (!stopping) process.stderr.write(`[${name}] exited unexpectedly (${code})\n`);
    });
  }
}

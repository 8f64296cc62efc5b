import { createClient } from "@connectrpc/connect";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { endpointUrl, type Config } from "@tiermesh/config";
import { LauncherService } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";

/**
 * The NATS the mesh uses: `TIERMESH_NATS_URL` when set (loadConfig has put it in
 * `nats.url`), else the one a running `tiermesh up` reports (its private nats-server, on a
 * port of its choosing), else the config's `nats.url`.
 */
export async function meshNatsUrl(config: Config, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env["TIERMESH_NATS_URL"]) return config.nats.url;
  try {
    const launcher = createClient(LauncherService, createMeshTransport(endpointUrl(config.launcher)));
    const { natsUrl } = await launcher.listProcesses({}, { timeoutMs: 1_000 });
    if (natsUrl !== "") return natsUrl;
  } catch {
    // No launcher answers: the services use the config's NATS.
  }
  return config.nats.url;
}

/** A CLI command's connection to the mesh's NATS (see meshNatsUrl). */
export async function connectMeshNats(config: Config): Promise<NatsConnection> {
  const url = await meshNatsUrl(config);
  return connect({ servers: url.split(","), name: "tiermesh-cli", timeout: 5_000 });
}

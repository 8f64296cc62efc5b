import { loadConfig } from "@tiermesh/config";
import { freePort } from "@tiermesh/process";
import { LauncherService } from "@tiermesh/proto";
import { createLogger, createRpcServer } from "@tiermesh/runtime";
import { afterAll, describe, expect, it } from "vitest";
import { createLauncherService } from "./launcher-service.js";
import { meshNatsUrl } from "./mesh-nats.js";

const EXAMPLE = new URL("../../../deploy/tiermesh.example.yaml", import.meta.url).pathname;

describe("the NATS a CLI command talks to", () => {
  const servers: { close: () => Promise<void> }[] = [];
  afterAll(() => Promise.all(servers.map((s) => s.close())));

  const configWithLauncherOn = (port: number) => {
    const config = loadConfig(EXAMPLE, {});
    config.launcher.listen = `127.0.0.1:${port}`;
    config.launcher.url = `http://127.0.0.1:${port}`;
    return config;
  };

  it("is the one the running tiermesh up reports (its private nats-server)", async () => {
    const port = await freePort();
    const rpc = createRpcServer({
      logger: createLogger("launcher-test", "silent"),
      serviceNames: [LauncherService.typeName],
      routes: (router) =>
        router.service(LauncherService, createLauncherService({ natsUrl: () => "nats://127.0.0.1:45123", status: () => [] })),
    });
    await rpc.listen(`127.0.0.1:${port}`);
    servers.push(rpc);
    expect(await meshNatsUrl(configWithLauncherOn(port), {})).toBe("nats://127.0.0.1:45123");
  });

  it("is TIERMESH_NATS_URL when set, whatever a launcher says", async () => {
    const config = loadConfig(EXAMPLE, { TIERMESH_NATS_URL: "nats://10.0.0.5:4333" });
    expect(await meshNatsUrl(config, { TIERMESH_NATS_URL: "nats://10.0.0.5:4333" })).toBe("nats://10.0.0.5:4333");
  });

  it("is the config's when no launcher answers", async () => {
    const config = configWithLauncherOn(await freePort());
    expect(await meshNatsUrl(config, {})).toBe(config.nats.url);
  });
});

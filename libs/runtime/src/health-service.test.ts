import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@tiermesh/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createHealthService, HealthStatus, LIVENESS_SERVICE, ServingStatus } from "./health-service.js";
import { createLogger } from "./logger.js";
import { createRpcServer, type RpcServer } from "./rpc-server.js";

const SERVICE = "tiermesh.router.v1.RouterService";

function inMemory(status: HealthStatus) {
  return createClient(
    Health,
    createRouterTransport(({ service }) => service(Health, createHealthService(status))),
  );
}

describe("grpc.health.v1 Check", () => {
  it("answers the status of the whole server, of each registered service, and NOT_FOUND for others", async () => {
    const status = new HealthStatus([SERVICE]);
    const health = inMemory(status);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    status.setAll(ServingStatus.SERVING);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: SERVICE })).status).toBe(ServingStatus.SERVING);
    await expect(health.check({ service: "tiermesh.nowhere.v1.Nothing" })).rejects.toMatchObject({ code: Code.NotFound });
  });

  it(`answers SERVING for "${LIVENESS_SERVICE}" whatever the other names say`, async () => {
    const status = new HealthStatus([SERVICE]);
    const health = inMemory(status);
    expect((await health.check({ service: LIVENESS_SERVICE })).status).toBe(ServingStatus.SERVING);
    status.setAll(ServingStatus.SERVING);
    status.setAll(ServingStatus.NOT_SERVING);
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await health.check({ service: LIVENESS_SERVICE })).status).toBe(ServingStatus.SERVING);
  });

  it(`watches "${LIVENESS_SERVICE}" as SERVING, and the server's status as it changes`, async () => {
    const status = new HealthStatus([SERVICE]);
    const health = inMemory(status);
    const controller = new AbortController();
    const liveness = health.watch({ service: LIVENESS_SERVICE }, { signal: controller.signal })[Symbol.asyncIterator]();
    const server = health.watch({ service: "" }, { signal: controller.signal })[Symbol.asyncIterator]();
    expect((await liveness.next()).value?.status).toBe(ServingStatus.SERVING);
    expect((await server.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    status.setAll(ServingStatus.SERVING);
    expect((await server.next()).value?.status).toBe(ServingStatus.SERVING);
    controller.abort();
  });
});

describe("liveness over gRPC, as Kubernetes' grpc probe asks", () => {
  let server: RpcServer | undefined;
  afterEach(async () => server?.close(0));

  it("is SERVING on a server that is not ready, and while it drains", async () => {
    server = createRpcServer({
      routes: () => undefined,
      serviceNames: [SERVICE],
      logger: createLogger("test", "silent"),
      ready: () => false,
    });
    const port = await server.listen("127.0.0.1:0");
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
    expect((await health.check({ service: "" }, { timeoutMs: 1_000 })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await health.check({ service: LIVENESS_SERVICE }, { timeoutMs: 1_000 })).status).toBe(ServingStatus.SERVING);
    server.health.setAll(ServingStatus.SERVING);
    expect((await health.check({ service: "" }, { timeoutMs: 1_000 })).status).toBe(ServingStatus.SERVING);
    // What close() does first, before the port closes: the pod leaves its Service but lives on.
    server.health.setAll(ServingStatus.NOT_SERVING);
    expect((await health.check({ service: LIVENESS_SERVICE }, { timeoutMs: 1_000 })).status).toBe(ServingStatus.SERVING);
  });
});

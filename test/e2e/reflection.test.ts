import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { grpc, unary } from "../support/grpc-clients.js";
import { listServices, packageFromDescriptors, reflect } from "../support/reflection-client.js";
import { startMesh, type RunningMesh } from "../support/running-mesh.js";

const reflection = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

describe("gRPC server reflection on every service, as grpcurl uses it", () => {
  let m: RunningMesh;

  beforeAll(async () => {
    m = await startMesh();
  });
  afterAll(async () => {
    await m?.stop();
  });

  it("lists each service's own RPC service, health and reflection, over v1 and v1alpha", async () => {
    const expected: [string, string[]][] = [
      [m.routerUrl, ["tiermesh.router.v1.RouterService", "tiermesh.router.v1.JobService"]],
      [m.classifierUrl, ["tiermesh.classifier.v1.ClassifierService"]],
      [m.monitorUrl, ["tiermesh.health.v1.HealthMonitorService", "tiermesh.ledger.v1.ReportService"]],
      ...Object.values(m.executorUrls).map((url): [string, string[]] => [url, ["tiermesh.executor.v1.TierExecutorService"]]),
    ];
    for (const [url, services] of expected) {
      const want = [...services, "grpc.health.v1.Health", ...reflection].sort();
      expect((await listServices(url, "v1")).sort()).toEqual(want);
      expect((await listServices(url, "v1alpha")).sort()).toEqual(want);
    }
  });

  it("describes the Router from its descriptors and calls it with a client built from them alone", async () => {
    // grpcurl's `describe` and call: the file declaring the service, with its dependencies.
    const [res] = await reflect(m.routerUrl, [{ file_containing_symbol: "tiermesh.router.v1.RouterService" }]);
    const files = res!.file_descriptor_response!.file_descriptor_proto;
    expect(files.length).toBe(2);
    const pkg = packageFromDescriptors(files);
    const Router = ((pkg["tiermesh"] as grpc.GrpcObject)["router"] as grpc.GrpcObject)["v1"] as grpc.GrpcObject;
    const Client = Router["RouterService"] as grpc.ServiceClientConstructor;
    expect(Object.keys(Client.service)).toEqual(["Complete", "CompleteStream"]);
    const client = new Client(m.routerUrl.replace("http://", ""), grpc.credentials.createInsecure());
    try {
      const answer = await unary<{ content: string; routing: { served_tier: string } }>(client, "Complete", {
        input: { messages: [{ role: "user", content: "Hello through reflection." }] },
      });
      expect(answer.routing.served_tier).toBe("gold");
      expect(answer.content.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
  });

  it("resolves a method and a message by name, and says NOT_FOUND for unknown names without ending the stream", async () => {
    const [method, message, unknown, byFile] = await reflect(
      m.routerUrl,
      [
        { file_containing_symbol: "tiermesh.router.v1.RouterService.CompleteStream" },
        { file_containing_symbol: "tiermesh.common.v1.CompletionInput" },
        { file_containing_symbol: "tiermesh.router.v1.NoSuchThing" },
        { file_by_filename: "grpc/health/v1/health.proto" },
      ],
      "v1alpha",
    );
    expect(method!.message_response).toBe("file_descriptor_response");
    expect(message!.message_response).toBe("file_descriptor_response");
    expect(unknown!.error_response).toMatchObject({ error_code: grpc.status.NOT_FOUND });
    expect(byFile!.file_descriptor_response!.file_descriptor_proto).toHaveLength(1);
  });
});

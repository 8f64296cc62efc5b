import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ClassifierService, Health, RouterService } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { DescriptorIndex } from "./descriptor-index.js";

const names = (encoded: Uint8Array[]) => encoded.map((b) => fromBinary(FileDescriptorProtoSchema, b).name);

describe("DescriptorIndex", () => {
  const index = new DescriptorIndex([RouterService, Health, ClassifierService, RouterService]);

  it("lists each service once, by full name", () => {
    expect(index.serviceNames).toEqual([
      "grpc.health.v1.Health",
      "tiermesh.classifier.v1.ClassifierService",
      "tiermesh.router.v1.RouterService",
    ]);
  });

  it("finds the file declaring a service, method, message, field, oneof, enum value, nested type", () => {
    const router = "tiermesh/router/v1/router.proto";
    const completion = "tiermesh/common/v1/completion.proto";
    expect(index.fileContainingSymbol("tiermesh.router.v1.RouterService")?.proto.name).toBe(router);
    expect(index.fileContainingSymbol("tiermesh.router.v1.RouterService.CompleteStream")?.proto.name).toBe(router);
    expect(index.fileContainingSymbol(".tiermesh.router.v1.CompleteRequest")?.proto.name).toBe(router);
    expect(index.fileContainingSymbol("tiermesh.common.v1.CompletionInput")?.proto.name).toBe(completion);
    expect(index.fileContainingSymbol("tiermesh.common.v1.CompletionInput.messages")?.proto.name).toBe(completion);
    expect(index.fileContainingSymbol("grpc.health.v1.HealthCheckResponse.ServingStatus")?.proto.name).toBe("grpc/health/v1/health.proto");
    expect(index.fileContainingSymbol("grpc.health.v1.HealthCheckResponse.SERVING")?.proto.name).toBe("grpc/health/v1/health.proto");
    expect(index.fileContainingSymbol("tiermesh.router.v1.Nothing")).toBeUndefined();
  });

  it("serves a file with its transitive dependencies, and on one stream each dependency once", () => {
    const router = index.fileByName("tiermesh/router/v1/router.proto")!;
    const sent = new Set<string>();
    expect(names(index.encodeWithDependencies(router, sent))).toEqual([
      "tiermesh/router/v1/router.proto",
      "tiermesh/common/v1/completion.proto",
    ]);
    const classifier = index.fileByName("tiermesh/classifier/v1/classifier.proto")!;
    expect(names(index.encodeWithDependencies(classifier, sent))).toEqual(["tiermesh/classifier/v1/classifier.proto"]);
    // Asked again, the file itself always comes back.
    expect(names(index.encodeWithDependencies(router, sent))).toEqual(["tiermesh/router/v1/router.proto"]);
  });

  it("serves the descriptors as compiled: imports, methods and their streaming", () => {
    const [router] = index.encodeWithDependencies(index.fileByName("tiermesh/router/v1/router.proto")!, new Set());
    const proto = fromBinary(FileDescriptorProtoSchema, router!);
    expect(proto.dependency).toEqual(["tiermesh/common/v1/completion.proto"]);
    expect(proto.service[0]!.method.map((m) => [m.name, m.inputType, m.serverStreaming])).toEqual([
      ["Complete", ".tiermesh.router.v1.CompleteRequest", false],
      ["CompleteStream", ".tiermesh.router.v1.CompleteRequest", true],
    ]);
  });

  it("knows no extensions: none is declared", () => {
    expect(index.fileContainingExtension("tiermesh.router.v1.CompleteRequest", 100)).toBeUndefined();
    expect(index.extensionNumbersOf("tiermesh.router.v1.CompleteRequest")).toEqual([]);
    expect(index.extensionNumbersOf("no.such.Type")).toBeUndefined();
  });
});

import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { reflectionV1 as v1, reflectionV1alpha as v1alpha, RouterService } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { registerReflection } from "./reflection-service.js";

const transport = createRouterTransport((router) => {
  router.service(RouterService, {});
  registerReflection(router);
});

async function* each<T>(items: T[]): AsyncIterable<T> {
  yield* items;
}

type Request = MessageInitShape<typeof v1.ServerReflectionRequestSchema>;

async function ask(requests: Request[]): Promise<v1.ServerReflectionResponse[]> {
  const out: v1.ServerReflectionResponse[] = [];
  for await (const res of createClient(v1.ServerReflection, transport).serverReflectionInfo(each(requests))) out.push(res);
  return out;
}

const fileNames = (res: v1.ServerReflectionResponse) =>
  res.messageResponse.case === "fileDescriptorResponse"
    ? res.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
    : [];

describe("gRPC server reflection", () => {
  it("answers each request on one stream in order, echoing it", async () => {
    const [list, symbol, again] = await ask([
      { host: "router:7400", messageRequest: { case: "listServices", value: "*" } },
      { messageRequest: { case: "fileContainingSymbol", value: "tiermesh.router.v1.RouterService" } },
      { messageRequest: { case: "fileByFilename", value: "tiermesh/router/v1/router.proto" } },
    ]);
    expect(list!.validHost).toBe("router:7400");
    expect(list!.originalRequest?.messageRequest).toEqual({ case: "listServices", value: "*" });
    expect(list!.messageResponse.case === "listServicesResponse" && list!.messageResponse.value.service.map((s) => s.name)).toEqual([
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "tiermesh.router.v1.RouterService",
    ]);
    expect(fileNames(symbol!)).toEqual(["tiermesh/router/v1/router.proto", "tiermesh/common/v1/completion.proto"]);
    expect(fileNames(again!)).toEqual(["tiermesh/router/v1/router.proto"]);
  });

  it("answers what it does not know with an error response and keeps the stream open", async () => {
    const [file, symbol, extension, numbers, known] = await ask([
      { messageRequest: { case: "fileByFilename", value: "nothing.proto" } },
      { messageRequest: { case: "fileContainingSymbol", value: "tiermesh.router.v1.Nothing" } },
      {
        messageRequest: {
          case: "fileContainingExtension",
          value: { containingType: "tiermesh.router.v1.CompleteRequest", extensionNumber: 100 },
        },
      },
      { messageRequest: { case: "allExtensionNumbersOfType", value: "tiermesh.router.v1.CompleteRequest" } },
      { messageRequest: { case: "fileContainingSymbol", value: "tiermesh.router.v1.RouterService.Complete" } },
    ]);
    for (const res of [file, symbol, extension]) {
      expect(res!.messageResponse.case).toBe("errorResponse");
      expect(res!.messageResponse.value).toMatchObject({ errorCode: Code.NotFound });
    }
    expect(numbers!.messageResponse).toMatchObject({
      case: "allExtensionNumbersResponse",
      value: { baseTypeName: "tiermesh.router.v1.CompleteRequest", extensionNumber: [] },
    });
    expect(fileNames(known!)).toEqual(["tiermesh/router/v1/router.proto", "tiermesh/common/v1/completion.proto"]);
  });

  it("speaks v1alpha too, with the same answers", async () => {
    const client = createClient(v1alpha.ServerReflection, transport);
    const out: v1alpha.ServerReflectionResponse[] = [];
    const requests = each<MessageInitShape<typeof v1alpha.ServerReflectionRequestSchema>>([
      { messageRequest: { case: "listServices", value: "" } },
      { messageRequest: { case: "fileContainingSymbol", value: "tiermesh.router.v1.CompleteResponse" } },
    ]);
    for await (const res of client.serverReflectionInfo(requests)) out.push(res);
    expect(out[0]!.messageResponse.case === "listServicesResponse" && out[0]!.messageResponse.value.service).toHaveLength(3);
    expect(out[1]!.messageResponse.case === "fileDescriptorResponse" && out[1]!.messageResponse.value.fileDescriptorProto).toHaveLength(2);
  });
});

import { create, fromBinary, toBinary, type DescFile, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, type ConnectRouter, type ServiceImpl } from "@connectrpc/connect";
import { reflectionV1 as v1, reflectionV1alpha as v1alpha } from "@tiermesh/proto";
import { DescriptorIndex } from "./descriptor-index.js";

type ResponseBody = MessageInitShape<typeof v1.ServerReflectionResponseSchema>["messageResponse"];

/**
 * Registers gRPC server reflection (grpc.reflection.v1 and its predecessor v1alpha, which many
 * tools still ask first) for every service on the router, these included, so grpcurl, grpcui
 * and Postman can list, describe and call them without the .proto files. Register it last:
 * the services are read from the router on the first request.
 */
export function registerReflection(router: ConnectRouter): void {
  let index: DescriptorIndex | undefined;
  const lazyIndex = () => (index ??= new DescriptorIndex(router.handlers.map((h) => h.service)));
  router.service(v1.ServerReflection, createReflectionV1(lazyIndex));
  router.service(v1alpha.ServerReflection, createReflectionV1alpha(lazyIndex));
}

export function createReflectionV1(index: () => DescriptorIndex): ServiceImpl<typeof v1.ServerReflection> {
  return { serverReflectionInfo: (requests) => reflect(index, requests) };
}

/** v1alpha is v1 under another package name, field for field: its messages are converted on the wire. */
export function createReflectionV1alpha(index: () => DescriptorIndex): ServiceImpl<typeof v1alpha.ServerReflection> {
  return {
    async *serverReflectionInfo(requests) {
      async function* asV1() {
        for await (const r of requests) {
          yield fromBinary(v1.ServerReflectionRequestSchema, toBinary(v1alpha.ServerReflectionRequestSchema, r));
        }
      }
      for await (const response of reflect(index, asV1())) {
        yield fromBinary(v1alpha.ServerReflectionResponseSchema, toBinary(v1.ServerReflectionResponseSchema, response));
      }
    },
  };
}

/** One answer per request, in order, on one stream. */
async function* reflect(
  index: () => DescriptorIndex,
  requests: AsyncIterable<v1.ServerReflectionRequest>,
): AsyncGenerator<v1.ServerReflectionResponse> {
  // Per stream, as the protocol allows: a dependency already sent is not sent again.
  const sent = new Set<string>();
  for await (const request of requests) {
    yield create(v1.ServerReflectionResponseSchema, {
      validHost: request.host,
      originalRequest: request,
      messageResponse: answer(index(), request.messageRequest, sent),
    });
  }
}

function answer(index: DescriptorIndex, request: v1.ServerReflectionRequest["messageRequest"], sent: Set<string>): ResponseBody {
  const files = (file: DescFile | undefined, what: string): ResponseBody =>
    file
      ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.encodeWithDependencies(file, sent) } }
      : error(Code.NotFound, `${what} not found`);
  switch (request.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.serviceNames.map((name) => ({ name })) } };
    case "fileByFilename":
      return files(index.fileByName(request.value), `file "${request.value}"`);
    case "fileContainingSymbol":
      return files(index.fileContainingSymbol(request.value), `symbol "${request.value}"`);
    case "fileContainingExtension": {
      const { containingType, extensionNumber } = request.value;
      return files(index.fileContainingExtension(containingType, extensionNumber), `extension ${extensionNumber} of "${containingType}"`);
    }
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbersOf(request.value);
      return numbers
        ? { case: "allExtensionNumbersResponse", value: { baseTypeName: request.value, extensionNumber: numbers } }
        : error(Code.NotFound, `type "${request.value}" not found`);
    }
    case undefined:
      return error(Code.InvalidArgument, "empty reflection request");
  }
}

function error(code: Code, message: string): ResponseBody {
  // gRPC status codes and Connect's Code enum share their numbers.
  return { case: "errorResponse", value: { errorCode: code, errorMessage: message } };
}

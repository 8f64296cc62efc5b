import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/**
 * A gRPC server reflection client as grpcurl is one: plain grpc-js, built from the vendored
 * reflection .proto files only, knowing nothing else of the server's schema.
 */

const protoRoot = fileURLToPath(new URL("../../proto/", import.meta.url));

export type ReflectionVersion = "v1" | "v1alpha";

/** A request as proto-loader takes it (keepCase): one of the reflection protocol's questions. */
export type ReflectionRequest =
  | { list_services: string }
  | { file_by_filename: string }
  | { file_containing_symbol: string }
  | { file_containing_extension: { containing_type: string; extension_number: number } }
  | { all_extension_numbers_of_type: string };

export interface ReflectionResponse {
  valid_host: string;
  message_response: "file_descriptor_response" | "all_extension_numbers_response" | "list_services_response" | "error_response";
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

interface ReflectionStub {
  client: grpc.Client;
  open(): grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
}

function reflectionStub(address: string, version: ReflectionVersion): ReflectionStub {
  const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
    includeDirs: [protoRoot],
    keepCase: true,
    defaults: true,
    oneofs: true,
  });
  const Client = grpc.makeGenericClientConstructor(
    definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition,
    "ServerReflection",
  );
  const client = new Client(address, grpc.credentials.createInsecure());
  const method = client["ServerReflectionInfo"] as (this: grpc.Client) => grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
  return { client, open: () => method.call(client) };
}

/** Sends the requests on one ServerReflectionInfo stream and collects one answer for each. */
export async function reflect(
  url: string,
  requests: ReflectionRequest[],
  version: ReflectionVersion = "v1",
): Promise<ReflectionResponse[]> {
  const stub = reflectionStub(url.replace(/^https?:\/\//, ""), version);
  try {
    const call = stub.open();
    const answers: ReflectionResponse[] = [];
    const done = new Promise<ReflectionResponse[]>((resolve, reject) => {
      call.on("data", (res: ReflectionResponse) => answers.push(res));
      call.on("error", reject);
      call.on("end", () => resolve(answers));
    });
    for (const r of requests) call.write(r);
    call.end();
    return await done;
  } finally {
    stub.client.close();
  }
}

/** The service names a server lists. */
export async function listServices(url: string, version: ReflectionVersion = "v1"): Promise<string[]> {
  const [res] = await reflect(url, [{ list_services: "*" }], version);
  return res!.list_services_response!.service.map((s) => s.name);
}

/**
 * A FileDescriptorSet of the serialized FileDescriptorProtos reflection returned, which is
 * what a dynamic client is built from (field 1 of FileDescriptorSet, repeated).
 */
export function descriptorSet(files: Buffer[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const length: number[] = [];
    for (let n = file.length; ; n >>>= 7) {
      if (n < 0x80) {
        length.push(n);
        break;
      }
      length.push((n & 0x7f) | 0x80);
    }
    parts.push(Buffer.from([0x0a, ...length]), file);
  }
  return Buffer.concat(parts);
}

/** A grpc-js package built from descriptors fetched by reflection, as grpcurl builds its calls. */
export function packageFromDescriptors(files: Buffer[]): grpc.GrpcObject {
  return grpc.loadPackageDefinition(
    protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet(files), {
      keepCase: true,
      longs: String,
      enums: String,
      defaults: true,
      oneofs: true,
    }),
  );
}

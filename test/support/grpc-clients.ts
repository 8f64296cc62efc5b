import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";

/** proto/ at the repository root: clients here are built from it, not from generated TS. */
const protoRoot = fileURLToPath(new URL("../../proto/", import.meta.url));

function load(file: string): grpc.GrpcObject {
  const definition = protoLoader.loadSync(file, {
    includeDirs: [protoRoot],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  return grpc.loadPackageDefinition(definition);
}

type Ctor = new (address: string, credentials: grpc.ChannelCredentials) => grpc.Client & Record<string, any>;

function service(pkg: grpc.GrpcObject, path: string): Ctor {
  return path.split(".").reduce((o: any, k) => o[k], pkg) as Ctor;
}

/** "http://127.0.0.1:1234" → "127.0.0.1:1234" */
const target = (url: string) => url.replace(/^https?:\/\//, "");

export function routerClient(url: string) {
  const Router = service(load("tiermesh/router/v1/router.proto"), "tiermesh.router.v1.RouterService");
  return new Router(target(url), grpc.credentials.createInsecure());
}

export function launcherClient(url: string) {
  const Launcher = service(load("tiermesh/launcher/v1/launcher.proto"), "tiermesh.launcher.v1.LauncherService");
  return new Launcher(target(url), grpc.credentials.createInsecure());
}

export function healthClient(url: string) {
  const Health = service(load("grpc/health/v1/health.proto"), "grpc.health.v1.Health");
  return new Health(target(url), grpc.credentials.createInsecure());
}

/** Promise form of a grpc-js unary call. */
export function unary<T>(
  client: grpc.Client & Record<string, any>,
  method: string,
  request: object,
  metadata = new grpc.Metadata(),
  deadlineMs = 10_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + deadlineMs }, (err: grpc.ServiceError | null, res: T) =>
      err ? reject(err) : resolve(res),
    );
  });
}

export { grpc };

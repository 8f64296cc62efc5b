import type { Config } from "@tiermesh/config";
import { ClassifierService } from "@tiermesh/proto";
import { createRpcServer, type Logger, type RpcServer } from "@tiermesh/runtime";
import { createClassifierService } from "./classifier-service.js";
import { compileTierPolicy } from "./tier-policy.js";

export interface ClassifierServer {
  readonly rpc: RpcServer;
  /** Replaces the running policy with one compiled from `config`. */
  reload(config: Config): void;
}

/** Builds the classifier without listening. */
export function createClassifierServer(config: Config, logger: Logger): ClassifierServer {
  let policy = compileTierPolicy(config);
  const rpc = createRpcServer({
    logger,
    serviceNames: [ClassifierService.typeName],
    routes: (router) => router.service(ClassifierService, createClassifierService({ policy: () => policy })),
  });
  return {
    rpc,
    reload(next) {
      policy = compileTierPolicy(next);
    },
  };
}

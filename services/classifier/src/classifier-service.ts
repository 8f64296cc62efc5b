import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { ClassifierService, ClassifyResponseSchema } from "@tiermesh/proto";
import type { Classify } from "./tier-policy.js";

export interface ClassifierServiceDeps {
  /** The current policy; swapped on config reload. */
  policy: () => Classify;
}

export function createClassifierService(deps: ClassifierServiceDeps): ServiceImpl<typeof ClassifierService> {
  return {
    classify(req) {
      const c = deps.policy()(req.tenant, req.input, req.deadlineMs);
      return create(ClassifyResponseSchema, c);
    },
  };
}

import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { type ClassifierService, ClassifyResponseSchema, WatchPolicyResponseSchema } from "@tiermesh/proto";
import type { PublishedPolicy } from "./published-policy.js";

export interface ClassifierServiceDeps {
  /** The current policy; swapped on config reload. */
  policy: PublishedPolicy;
  /** Aborted when the server shuts down, so watch streams end. */
  shutdownSignal?: AbortSignal;
  /** Told of every Classify answer, with the tier assigned. */
  onClassified?: (tier: string) => void;
}

export function createClassifierService(deps: ClassifierServiceDeps): ServiceImpl<typeof ClassifierService> {
  return {
    classify(req) {
      const c = deps.policy.current.classify(req.tenant, req.input, req.deadlineMs);
      deps.onClassified?.(c.tier);
      return create(ClassifyResponseSchema, c);
    },
    async *watchPolicy(_req, ctx) {
      let wake: (() => void) | undefined;
      let changed = true;
      const stop = deps.policy.watch(() => {
        changed = true;
        wake?.();
      });
      const ended = new Promise<void>((resolve) => {
        ctx.signal.addEventListener("abort", () => resolve(), { once: true });
        deps.shutdownSignal?.addEventListener("abort", () => resolve(), { once: true });
      });
      try {
        while (!ctx.signal.aborted && !deps.shutdownSignal?.aborted) {
          if (changed) {
            changed = false;
            const { encoding, loadedAtMs } = deps.policy.current;
            yield create(WatchPolicyResponseSchema, {
              version: encoding.version,
              policyJson: encoding.json,
              loadedAtMs: BigInt(loadedAtMs),
            });
            continue;
          }
          await Promise.race([new Promise<void>((resolve) => (wake = resolve)), ended]);
        }
      } finally {
        stop();
      }
    },
  };
}

import type { ModelEntry } from "@tiermesh/policy";
import type { ToolCallDelta } from "@tiermesh/proto";

/** The unary answer's shapes are shared with the Batch API's output files. */
export { completionBody, extensionOf, usageOf } from "@tiermesh/jobs";

/**
 * A streamed tool call piece as OpenAI's delta: a call's first piece carries its id, type and
 * name; the following ones only argument fragments.
 */
export function toolCallDelta(d: ToolCallDelta): object {
  return {
    tool_calls: [
      {
        index: d.index,
        ...(d.id ? { id: d.id, type: "function" } : {}),
        function: { ...(d.name ? { name: d.name } : {}), arguments: d.arguments },
      },
    ],
  };
}

/** One model name as OpenAI's `model` object. */
export const modelObject = (m: ModelEntry, created: number) => ({ id: m.id, object: "model", created, owned_by: m.ownedBy });

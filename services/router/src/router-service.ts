import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { RouterService } from "@tiermesh/proto";
import { traceContextOf } from "@tiermesh/runtime";
import type { RouteCall, RouterCore } from "./router-core.js";

/** Urgency and tier hint may come as request fields or, when those are empty, as headers. */
function withHeaders(input: RouteCall["input"], header: Headers): RouteCall["input"] {
  if (!input) return input;
  const urgency = input.urgency || header.get("x-tiermesh-urgency") || "";
  const tierHint = input.tierHint || header.get("x-tiermesh-tier") || "";
  return urgency === input.urgency && tierHint === input.tierHint ? input : { ...input, urgency, tierHint };
}

const callOf = (input: RouteCall["input"], ctx: HandlerContext): RouteCall => ({
  input: withHeaders(input, ctx.requestHeader),
  authorization: ctx.requestHeader.get("authorization"),
  timeoutMs: ctx.timeoutMs(),
  signal: ctx.signal,
  trace: traceContextOf(ctx),
});

/** The Router RPC (gRPC, gRPC-Web, Connect) over the routing core. */
export function createRouterService(core: RouterCore): ServiceImpl<typeof RouterService> {
  return {
    complete: (req, ctx) => core.complete(callOf(req.input, ctx)),
    async *completeStream(req, ctx) {
      for await (const event of core.completeStream(callOf(req.input, ctx))) yield { event };
    },
  };
}

import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import type { RouterService } from "@tiermesh/proto";
import type { RouteCall, RouterCore } from "./router-core.js";

const callOf = (input: RouteCall["input"], ctx: HandlerContext): RouteCall => ({
  input,
  authorization: ctx.requestHeader.get("authorization"),
  timeoutMs: ctx.timeoutMs(),
  signal: ctx.signal,
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

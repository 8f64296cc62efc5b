import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { ExecuteResponseSchema, reflectionV1 as v1, TierExecutorService } from "@tiermesh/proto";
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { createInProcessTransport } from "./in-process-transport.js";
import { registerReflection } from "./reflection-service.js";

function service(overrides: Partial<ServiceImpl<typeof TierExecutorService>> = {}): ServiceImpl<typeof TierExecutorService> {
  return {
    execute: (req, ctx) =>
      create(ExecuteResponseSchema, { tier: req.tier, content: `hello ${ctx.requestHeader.get("x-who") ?? "nobody"}` }),
    async *executeStream(req) {
      yield { event: { case: "delta", value: "a" } };
      yield { event: { case: "delta", value: "b" } };
      yield { event: { case: "done", value: { tier: req.tier } } };
    },
    ...overrides,
  };
}

describe("createInProcessTransport", () => {
  it("serves unary and server-streaming calls of a createClient client, with headers", async () => {
    const client = createClient(TierExecutorService, createInProcessTransport(TierExecutorService, service()));
    const res = await client.execute({ tier: "gold" }, { headers: { "x-who": "router" } });
    expect(res).toMatchObject({ tier: "gold", content: "hello router" });
    const events: string[] = [];
    for await (const e of client.executeStream({ tier: "gold" }))
      events.push(e.event.case === "delta" ? e.event.value : String(e.event.case));
    expect(events).toEqual(["a", "b", "done"]);
  });

  it("passes the implementation's errors on as they are, metadata included", async () => {
    const err = new ConnectError("full", Code.ResourceExhausted, { "retry-after": "2" });
    const client = createClient(
      TierExecutorService,
      createInProcessTransport(TierExecutorService, service({ execute: () => Promise.reject(err) })),
    );
    const got = await client.execute({}).catch((e: unknown) => e as ConnectError);
    expect(got).toBeInstanceOf(ConnectError);
    expect((got as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((got as ConnectError).metadata.get("retry-after")).toBe("2");
    expect((got as ConnectError).metadata.get("content-length")).toBeNull();
  });

  it("gives the implementation the caller's cancellation and deadline", async () => {
    let seen: unknown;
    const hang = service({
      execute: (_req, ctx) =>
        new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject((seen = ctx.signal.reason)), { once: true })),
    });
    const client = createClient(TierExecutorService, createInProcessTransport(TierExecutorService, hang));
    await expect(client.execute({}, { timeoutMs: 30 })).rejects.toMatchObject({ code: Code.DeadlineExceeded });
    const controller = new AbortController();
    const call = client.execute({}, { signal: controller.signal });
    controller.abort();
    await expect(call).rejects.toMatchObject({ code: Code.Canceled });
    expect(seen).toBeDefined();
  });

  it("closes the implementation's stream when the caller cancels it (as Connect clients do: by their signal)", async () => {
    let closed = false;
    const client = createClient(
      TierExecutorService,
      createInProcessTransport(
        TierExecutorService,
        service({
          async *executeStream() {
            try {
              for (;;) {
                yield { event: { case: "delta", value: "x" } };
                await new Promise((r) => setTimeout(r, 1));
              }
            } finally {
              closed = true;
            }
          },
        }),
      ),
    );
    const controller = new AbortController();
    for await (const _ of client.executeStream({}, { signal: controller.signal })) break;
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(false);
    controller.abort();
    await new Promise((r) => setTimeout(r, 10));
    expect(closed).toBe(true);
  });

  it("serves a bidi-streaming method (server reflection), answering each request as it comes", async () => {
    // The implementation registerReflection puts on a router, taken from it.
    let impl: ServiceImpl<typeof v1.ServerReflection> | undefined;
    createRouterTransport((router) => {
      const service = (s: DescService, i: unknown) => {
        if (s === v1.ServerReflection) impl = i as ServiceImpl<typeof v1.ServerReflection>;
        return router.service(s as never, i as never);
      };
      registerReflection({ ...router, handlers: router.handlers, service } as never);
    });
    const client = createClient(v1.ServerReflection, createInProcessTransport(v1.ServerReflection, impl!));
    async function* requests() {
      yield { messageRequest: { case: "listServices" as const, value: "*" } };
      yield { messageRequest: { case: "fileContainingSymbol" as const, value: "grpc.reflection.v1.ServerReflection" } };
    }
    const answers: string[] = [];
    for await (const res of client.serverReflectionInfo(requests())) answers.push(res.messageResponse.case ?? "none");
    expect(answers).toEqual(["listServicesResponse", "fileDescriptorResponse"]);
  });

  it("gives the implementation a copy of the caller's headers", async () => {
    const headers = new Headers({ "x-who": "router" });
    const client = createClient(
      TierExecutorService,
      createInProcessTransport(
        TierExecutorService,
        service({
          execute: (_req, ctx) => {
            ctx.requestHeader.set("x-who", "changed");
            return { tier: ctx.requestHeader.get("x-who") ?? "" };
          },
        }),
      ),
    );
    expect((await client.execute({}, { headers })).tier).toBe("changed");
    expect(headers.get("x-who")).toBe("router");
  });
});

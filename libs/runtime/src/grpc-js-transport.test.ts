import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import {
  ExecuteResponseSchema,
  ExecuteStreamResponseSchema,
  Health,
  HealthCheckResponse_ServingStatus,
  TierExecutorService,
} from "@tiermesh/proto";
import { afterEach, describe, expect, it } from "vitest";
import { createGrpcJsTransport, type ClosableTransport } from "./grpc-js-transport.js";
import { createLogger } from "./logger.js";
import { createMeshTransport } from "./rpc-client.js";
import { createRpcServer, type RpcServer } from "./rpc-server.js";

type Executor = ServiceImpl<typeof TierExecutorService>;

let server: RpcServer | undefined;
let channel: ClosableTransport | undefined;
afterEach(async () => {
  channel?.close();
  await server?.close(0);
  server = channel = undefined;
});

/** An executor served with grpc-js on HTTP/2 (as the tier executor is), and a gRPC client of it. */
async function serve(impl: Partial<Executor>, interceptors: Interceptor[] = []) {
  server = createRpcServer({
    routes: (router) => router.service(TierExecutorService, impl),
    serviceNames: [TierExecutorService.typeName],
    logger: createLogger("test", "silent"),
    interceptors,
    http2: "grpc-js",
  });
  const port = await server.listen("127.0.0.1:0");
  const url = `http://127.0.0.1:${port}`;
  channel = createGrpcJsTransport(url);
  return { url, client: createClient(TierExecutorService, channel) };
}

/** The error a call fails with (a call that succeeds fails the test). */
const failure = (call: Promise<unknown>) =>
  call.then(
    () => {
      throw new Error("the call succeeded");
    },
    (e: unknown) => ConnectError.from(e),
  );

/** Resolves when `signal` aborts, with its reason. */
const aborted = (signal: AbortSignal) =>
  new Promise<unknown>((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true }));

describe("gRPC between services: createGrpcJsTransport to a grpc-js served executor", () => {
  it("carries a unary call with its request headers, response headers and trailers", async () => {
    const { client } = await serve({
      execute(req, ctx) {
        ctx.responseHeader.set("x-served-by", "gold-1");
        ctx.responseTrailer.set("x-attempts", "2");
        return create(ExecuteResponseSchema, { tier: req.tier, content: `hello ${ctx.requestHeader.get("x-tenant")}` });
      },
    });
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await client.execute(
      { tier: "gold" },
      { headers: { "x-tenant": "acme" }, onHeader: (h) => (header = h), onTrailer: (t) => (trailer = t) },
    );
    expect(res.tier).toBe("gold");
    expect(res.content).toBe("hello acme");
    expect(header?.get("x-served-by")).toBe("gold-1");
    expect(trailer?.get("x-attempts")).toBe("2");
  });

  it("streams a server-streaming call's messages in order, and an error after them with its code", async () => {
    const { client } = await serve({
      async *executeStream(req) {
        for (let i = 0; i < 3; i++) yield create(ExecuteStreamResponseSchema, { event: { case: "delta", value: `${req.tier}-${i}` } });
        throw new ConnectError("provider went away", Code.Unavailable);
      },
    });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const m of client.executeStream({ tier: "silver" })) if (m.event.case === "delta") seen.push(m.event.value);
    })().catch((e: unknown) => e);
    expect(seen).toEqual(["silver-0", "silver-1", "silver-2"]);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unavailable);
    expect((err as ConnectError).rawMessage).toBe("provider went away");
  });

  it("keeps an error's code, message, metadata and details", async () => {
    const { client } = await serve({
      execute() {
        const err = new ConnectError("tier: no such tier ünïcode", Code.InvalidArgument, { "x-reason": "unknown-tier" });
        err.details.push({ desc: ExecuteResponseSchema, value: { tier: "platinum" } });
        throw err;
      },
    });
    const err = await failure(client.execute({ tier: "platinum" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.rawMessage).toBe("tier: no such tier ünïcode");
    expect(err.metadata.get("x-reason")).toBe("unknown-tier");
    expect(err.findDetails(ExecuteResponseSchema).map((d) => d.tier)).toEqual(["platinum"]);
  });

  it("passes the caller's deadline to the handler, which sees its signal abort when it passes", async () => {
    let reason: unknown;
    const { client } = await serve({
      async execute(_req, ctx) {
        expect(ctx.timeoutMs()).toBeLessThanOrEqual(300);
        reason = await aborted(ctx.signal);
        return create(ExecuteResponseSchema, {});
      },
    });
    const err = await failure(client.execute({ tier: "gold" }, { timeoutMs: 300 }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    await expect.poll(() => ConnectError.from(reason).code).toBe(Code.DeadlineExceeded);
  });

  it("cancels the handler when the caller aborts, and the caller gets its own reason", async () => {
    let handlerSignal: AbortSignal | undefined;
    const { client } = await serve({
      async *executeStream(_req, ctx) {
        handlerSignal = ctx.signal;
        yield create(ExecuteStreamResponseSchema, { event: { case: "delta", value: "a" } });
        await aborted(ctx.signal);
      },
    });
    const caller = new AbortController();
    const reason = new ConnectError("hedge lost", Code.Canceled);
    const err = await (async () => {
      for await (const _ of client.executeStream({ tier: "gold" }, { signal: caller.signal })) caller.abort(reason);
    })().catch((e: unknown) => e);
    expect(err).toBe(reason);
    await expect.poll(() => handlerSignal?.aborted).toBe(true);
  });

  it("runs the server's interceptors around each call", async () => {
    const stamp: Interceptor = (next) => async (req) => {
      const res = await next(req);
      res.header.set("x-intercepted", req.method.name);
      return res;
    };
    const { client } = await serve({ execute: () => create(ExecuteResponseSchema, { tier: "gold" }) }, [stamp]);
    let header: Headers | undefined;
    await client.execute({ tier: "gold" }, { onHeader: (h) => (header = h) });
    expect(header?.get("x-intercepted")).toBe("Execute");
  });

  it("answers UNAVAILABLE when nothing listens, and reaches a server that starts later", async () => {
    const probe = createRpcServer({ routes: () => undefined, serviceNames: [], logger: createLogger("test", "silent") });
    const port = await probe.listen("127.0.0.1:0");
    await probe.close(0);
    channel = createGrpcJsTransport(`http://127.0.0.1:${port}`);
    const client = createClient(TierExecutorService, channel);
    const err = await failure(client.execute({ tier: "gold" }, { timeoutMs: 2_000 }));
    expect(err.code).toBe(Code.Unavailable);
    server = createRpcServer({
      routes: (router) => router.service(TierExecutorService, { execute: () => create(ExecuteResponseSchema, { tier: "up" }) }),
      serviceNames: [TierExecutorService.typeName],
      logger: createLogger("test", "silent"),
      http2: "grpc-js",
    });
    await server.listen(`127.0.0.1:${port}`);
    const started = Date.now();
    await expect
      .poll(
        () =>
          client.execute({ tier: "gold" }).then(
            (r) => r.tier,
            () => "down",
          ),
        { timeout: 3_000, interval: 50 },
      )
      .toBe("up");
    expect(Date.now() - started).toBeLessThan(1_500);
  });

  it("still speaks Connect on HTTP/1.1 and health over gRPC on the same port, and refuses Connect on HTTP/2", async () => {
    const { url } = await serve({ execute: () => create(ExecuteResponseSchema, { tier: "gold" }) });
    const h1 = createClient(TierExecutorService, createConnectTransport({ baseUrl: url, httpVersion: "1.1", useBinaryFormat: true }));
    expect((await h1.execute({ tier: "gold" })).tier).toBe("gold");
    const health = createClient(Health, channel!);
    expect((await health.check({ service: TierExecutorService.typeName })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    const connectH2 = createClient(TierExecutorService, createMeshTransport(url));
    await expect(connectH2.execute({ tier: "gold" }, { timeoutMs: 2_000 })).rejects.toBeInstanceOf(ConnectError);
  });
});

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createContextValues, type ServiceImpl, type Transport } from "@connectrpc/connect";
import { ExecuteResponseSchema, Health, TierExecutorService } from "@tiermesh/proto";
import { ROOT_CONTEXT, SpanKind, trace, tracerFor } from "@tiermesh/telemetry";
import { startTestTracing, type ReadableSpan, type TestTracing } from "@tiermesh/telemetry/testing";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { withInterceptors } from "./intercepted-transport.js";
import { createInProcessTransport } from "./in-process-transport.js";
import { createLogger } from "./logger.js";
import { createMeshTransport } from "./rpc-client.js";
import { createRpcServer, type RpcServer } from "./rpc-server.js";
import { clientTracing, serverTracing, TRACE_CONTEXT, traceContextOf } from "./rpc-tracing.js";

let tracing: TestTracing;
beforeAll(async () => {
  tracing = await startTestTracing();
});
afterAll(() => tracing.stop());
afterEach(() => tracing.reset());

/** An executor whose handlers make a span of their own under the call's server span. */
function service(): ServiceImpl<typeof TierExecutorService> {
  const tracer = tracerFor("tier-executor")!;
  return {
    execute(req, ctx) {
      if (req.tier === "fail") throw new ConnectError("down", Code.Unavailable);
      if (req.tier === "refuse") throw new ConnectError("tier: no", Code.InvalidArgument);
      tracer.startSpan("inside", {}, traceContextOf(ctx)).end();
      return create(ExecuteResponseSchema, { tier: req.tier });
    },
    async *executeStream(req, ctx) {
      tracer.startSpan("inside", {}, traceContextOf(ctx)).end();
      yield { event: { case: "delta", value: "a" } };
      yield { event: { case: "done", value: { tier: req.tier } } };
    },
  };
}

const byName = (name: string, kind?: SpanKind) => tracing.spans().filter((s) => s.name === name && (kind === undefined || s.kind === kind));

/** Checks one traced call: caller's span → client span → server span → handler's span, one trace. */
function expectOneTrace(method: string, parentSpanId: string, traceId: string): { client: ReadableSpan; server: ReadableSpan } {
  const [client] = byName(`tiermesh.executor.v1.TierExecutorService/${method}`, SpanKind.CLIENT);
  const [server] = byName(`tiermesh.executor.v1.TierExecutorService/${method}`, SpanKind.SERVER);
  const [inside] = byName("inside");
  expect(client!.spanContext().traceId).toBe(traceId);
  expect(client!.parentSpanContext?.spanId).toBe(parentSpanId);
  expect(server!.spanContext().traceId).toBe(traceId);
  expect(server!.parentSpanContext?.spanId).toBe(client!.spanContext().spanId);
  expect(inside!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
  expect(client!.resource.attributes["service.name"]).toBe("tiermesh-router");
  expect(server!.resource.attributes["service.name"]).toBe("tiermesh-tier-executor");
  expect(client!.attributes["rpc.method"]).toBe(`tiermesh.executor.v1.TierExecutorService/${method}`);
  expect(client!.attributes["rpc.status_code"]).toBe("OK");
  expect(server!.attributes["rpc.status_code"]).toBe("OK");
  return { client: client!, server: server! };
}

/** The calls every transport must trace alike. */
function tracedCalls(transportOf: () => Transport) {
  const callerSpan = () => tracerFor("router")!.startSpan("route");
  const options = (span: ReturnType<typeof callerSpan>) => ({
    contextValues: createContextValues().set(TRACE_CONTEXT, trace.setSpan(ROOT_CONTEXT, span)),
  });
  const client = () => createClient(TierExecutorService, withInterceptors(transportOf(), clientTracing(tracerFor("router"))));

  it("unary: the caller's span, the client span, the server span and the handler's spans share one trace", async () => {
    const route = callerSpan();
    await client().execute({ tier: "gold" }, options(route));
    route.end();
    expectOneTrace("Execute", route.spanContext().spanId, route.spanContext().traceId);
  });

  it("streaming: the spans end when the stream is read to its end", async () => {
    const route = callerSpan();
    const events = [];
    for await (const e of client().executeStream({ tier: "gold" }, options(route))) events.push(e.event.case);
    route.end();
    expect(events).toEqual(["delta", "done"]);
    expectOneTrace("ExecuteStream", route.spanContext().spanId, route.spanContext().traceId);
  });

  it("a failure: the client span is an error; the server span only when the failure is the server's", async () => {
    await client()
      .execute({ tier: "fail" })
      .catch(() => undefined);
    await client()
      .execute({ tier: "refuse" })
      .catch(() => undefined);
    const clients = byName("tiermesh.executor.v1.TierExecutorService/Execute", SpanKind.CLIENT);
    const servers = byName("tiermesh.executor.v1.TierExecutorService/Execute", SpanKind.SERVER);
    expect(clients.map((s) => [s.attributes["rpc.status_code"], s.status.code])).toEqual([
      ["UNAVAILABLE", 2],
      ["INVALID_ARGUMENT", 2],
    ]);
    expect(servers.map((s) => [s.attributes["rpc.status_code"], s.status.code])).toEqual([
      ["UNAVAILABLE", 2],
      ["INVALID_ARGUMENT", 0],
    ]);
    expect(clients[0]!.attributes["error.type"]).toBe("UNAVAILABLE");
  });

  it("a stream the caller gives up on ends its client span as cancelled, not failed", async () => {
    const controller = new AbortController();
    for await (const _ of client().executeStream({ tier: "gold" }, { signal: controller.signal })) {
      controller.abort();
      break;
    }
    await new Promise((r) => setTimeout(r, 20));
    const [c] = byName("tiermesh.executor.v1.TierExecutorService/ExecuteStream", SpanKind.CLIENT);
    expect(c!.attributes["rpc.status_code"]).toBe("CANCELED");
    expect(c!.status.code).toBe(0);
  });

  it("a call with no caller's span starts a trace of its own", async () => {
    await client().execute({ tier: "gold" });
    const [c] = byName("tiermesh.executor.v1.TierExecutorService/Execute", SpanKind.CLIENT);
    expect(c!.parentSpanContext).toBeUndefined();
  });
}

describe("RPC tracing over the mesh transport and a real server", () => {
  let server: RpcServer;
  let baseUrl: string;
  beforeAll(async () => {
    server = createRpcServer({
      logger: createLogger("test", "silent"),
      serviceNames: [TierExecutorService.typeName],
      routes: (router) => router.service(TierExecutorService, service()),
      interceptors: serverTracing(tracerFor("tier-executor")),
    });
    baseUrl = `http://127.0.0.1:${await server.listen("127.0.0.1:0")}`;
  });
  afterAll(() => server.close(0));

  tracedCalls(() => createMeshTransport(baseUrl));

  it("health checks are not traced", async () => {
    const health = createClient(Health, withInterceptors(createMeshTransport(baseUrl), clientTracing(tracerFor("router"))));
    await health.check({ service: "" });
    expect(tracing.spans()).toEqual([]);
  });
});

describe("RPC tracing over the in-process transport", () => {
  tracedCalls(() => createInProcessTransport(TierExecutorService, service(), { interceptors: serverTracing(tracerFor("tier-executor")) }));
});

describe("RPC tracing off", () => {
  it("adds no interceptor", () => {
    expect(clientTracing(undefined)).toEqual([]);
    expect(serverTracing(undefined)).toEqual([]);
    const transport = createMeshTransport("http://127.0.0.1:1");
    expect(withInterceptors(transport, [])).toBe(transport);
  });
});

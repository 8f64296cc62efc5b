// One side of a hop, run as its own process: `server <kind>` listens and prints its port;
// `client <kind> <port> <rate> <seconds>` calls it open-loop and prints its figures as JSON.
// Kinds: `none` (no call: the load generator's own cost), `mesh` (router → executor as deployed: the
// runtime's gRPC transport to an RPC server whose HTTP/2 is grpc-js, a trivial TierExecutorService),
// `connect` (the same server and client on connect-node, Connect protocol, as before), `grpc-js`
// (bare @grpc/grpc-js), `h2` (bare node:http2, the same bytes), `h1` (bare node:http with keep-alive, JSON bodies).
import * as http from "node:http";
import * as http2 from "node:http2";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { ExecuteRequestSchema, ExecuteResponseSchema, TierExecutorService } from "@tiermesh/proto";
import { createGrpcJsTransport, createLogger, createMeshTransport, createRpcServer } from "@tiermesh/runtime";
import { Agent, request } from "undici";
import { openLoop } from "./open-loop.mjs";

const EXECUTE_PATH = `/${TierExecutorService.typeName}/Execute`;
const [role, kind, ...rest] = process.argv.slice(2);

const requestInit = {
  tier: "gold",
  requestId: "8f6f2c1e-5d1b-4f57-9a51-2f1b6d1c9a11",
  tenant: "bench",
  input: { messages: [{ role: "user", content: "benchmark prompt of a typical short size" }], maxTokens: 4 },
  maxAttempts: 3,
  collect: true,
  promptTokens: 12,
  requestedTier: "gold",
};
const responseInit = {
  tier: "gold",
  model: "sim-zero",
  provider: "sim",
  deployment: "sim/sim-zero",
  content: "one two three four",
  finishReason: "stop",
  usage: { promptTokens: 12, completionTokens: 4 },
  costUsd: 0.000016,
  timings: { ttftUs: 900n, totalUs: 1_200n, providerUs: 1_100n },
  attempts: 1,
};
const requestBytes = toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, requestInit));
const responseBytes = toBinary(ExecuteResponseSchema, create(ExecuteResponseSchema, responseInit));
const jsonRequest = JSON.stringify({ model: "sim-zero", messages: requestInit.input.messages, max_tokens: 4 });
const jsonResponse = JSON.stringify({
  id: "x",
  object: "chat.completion",
  choices: [{ index: 0, message: { role: "assistant", content: responseInit.content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 12, completion_tokens: 4 },
});

process.on("SIGINT", () => process.exit(0));
process.on("SIGTERM", () => process.exit(0));

async function server() {
  let port;
  if (kind === "none") {
    port = 0;
  } else if (kind === "connect" || kind === "mesh") {
    const rpc = createRpcServer({
      http2: kind === "mesh" ? "grpc-js" : "connect",
      serviceNames: [TierExecutorService.typeName],
      logger: createLogger("hop-floor", "warn"),
      routes: (router) =>
        router.service(TierExecutorService, {
          execute: () => create(ExecuteResponseSchema, responseInit),
          async *executeStream() {},
        }),
    });
    port = await rpc.listen("127.0.0.1:0");
  } else if (kind === "grpc-js") {
    const s = new grpc.Server();
    s.addService(
      {
        execute: {
          path: EXECUTE_PATH,
          requestStream: false,
          responseStream: false,
          requestDeserialize: (b) => fromBinary(ExecuteRequestSchema, b),
          responseSerialize: (m) => Buffer.from(toBinary(ExecuteResponseSchema, m)),
        },
      },
      { execute: (_call, cb) => cb(null, create(ExecuteResponseSchema, responseInit)) },
    );
    port = await new Promise((resolve, reject) =>
      s.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
  } else if (kind === "h2") {
    const s = http2.createServer();
    s.on("stream", (stream) => {
      const chunks = [];
      stream.on("data", (c) => chunks.push(c));
      stream.on("end", () => {
        stream.respond({ ":status": 200, "content-type": "application/proto" });
        stream.end(responseBytes);
      });
    });
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    port = s.address().port;
  } else {
    const s = http.createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
      const chunks = [];
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => {
        JSON.parse(Buffer.concat(chunks).toString());
        res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(jsonResponse) });
        res.end(jsonResponse);
      });
    });
    await new Promise((r) => s.listen(0, "127.0.0.1", r));
    port = s.address().port;
  }
  process.stdout.write(`${port}\n`);
}

async function client() {
  const [port, rate, seconds] = rest.map(Number);
  let call;
  if (kind === "none") {
    // No hop at all: what the load generator itself costs per call, subtracted from the others.
    call = () => Promise.resolve();
  } else if (kind === "mesh") {
    const c = createClient(TierExecutorService, createGrpcJsTransport(`http://127.0.0.1:${port}`));
    call = () => c.execute(requestInit, { timeoutMs: 10_000 });
  } else if (kind === "connect") {
    const c = createClient(TierExecutorService, createMeshTransport(`http://127.0.0.1:${port}`));
    call = () => c.execute(requestInit, { timeoutMs: 10_000 });
  } else if (kind === "grpc-js") {
    const c = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const serialize = (m) => Buffer.from(toBinary(ExecuteRequestSchema, create(ExecuteRequestSchema, m)));
    const deserialize = (b) => fromBinary(ExecuteResponseSchema, b);
    call = () =>
      new Promise((resolve, reject) =>
        c.makeUnaryRequest(
          EXECUTE_PATH,
          serialize,
          deserialize,
          requestInit,
          new grpc.Metadata(),
          { deadline: Date.now() + 10_000 },
          (err, r) => (err ? reject(err) : resolve(r)),
        ),
      );
  } else if (kind === "h2") {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    call = () =>
      new Promise((resolve, reject) => {
        const s = session.request({ ":method": "POST", ":path": "/x", "content-type": "application/proto" });
        const chunks = [];
        s.on("data", (c) => chunks.push(c));
        s.on("end", resolve);
        s.on("error", reject);
        s.end(requestBytes);
      });
  } else {
    const dispatcher = new Agent({ connections: 64, keepAliveTimeout: 60_000 });
    call = async () => {
      const res = await request(`http://127.0.0.1:${port}/x`, {
        method: "POST",
        body: jsonRequest,
        headers: { "content-type": "application/json" },
        dispatcher,
      });
      JSON.parse(await res.body.text());
    };
  }
  await openLoop({ rate: 200, seconds: 2, call }); // warm-up
  const before = process.cpuUsage();
  const r = await openLoop({ rate, seconds, call });
  const used = process.cpuUsage(before);
  process.stdout.write(`${JSON.stringify({ cpuMs: (used.user + used.system) / 1_000, calls: rate * seconds, errors: r.errors ?? 0 })}\n`);
  process.exit(0);
}

await (role === "server" ? server() : client());

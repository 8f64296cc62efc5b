// CPU cost of tracing per RPC hop, in one process (robust to a busy machine: CPU time, not wall time).
// Usage: node test/bench/tracing-overhead.mjs [calls]   (after npm run build)
// off: the transport as tiermesh builds it with tracing off (no interceptor: the same object).
// on:  client and server tracing interceptors and a handler span per call, every span sampled and
//      handed to an exporter that drops it (the SDK's cost, not the network's).
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { ExecuteResponseSchema, TierExecutorService } from "@tiermesh/proto";
import { clientTracing, createInProcessTransport, serverTracing, traceContextOf, withInterceptors } from "@tiermesh/runtime";
import { startTracing, tracerFor } from "@tiermesh/telemetry";
import { tracingSchema } from "@tiermesh/config";

const calls = Number(process.argv[2] ?? 20_000);
const response = create(ExecuteResponseSchema, { tier: "gold", content: "hi" });
const request = { tier: "gold", input: { messages: [{ role: "user", content: "hello" }] } };

function clientFor(tracing) {
  const tracer = tracing ? tracerFor("tier-executor") : undefined;
  const impl = {
    execute(_req, ctx) {
      tracer?.startSpan("chat m", {}, traceContextOf(ctx)).end();
      return response;
    },
    async *executeStream() {},
  };
  const server = createInProcessTransport(TierExecutorService, impl, { interceptors: serverTracing(tracer) });
  const transport = withInterceptors(server, clientTracing(tracing ? tracerFor("router") : undefined));
  if (!tracing && transport !== server) throw new Error("tracing off must leave the transport as it is");
  return createClient(TierExecutorService, transport);
}

async function cpuPerCall(client) {
  for (let i = 0; i < 2_000; i++) await client.execute(request);
  const before = process.cpuUsage();
  for (let i = 0; i < calls; i++) await client.execute(request);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / calls;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const off = clientFor(false);
const offRuns = [];
for (let r = 0; r < 5; r++) offRuns.push(await cpuPerCall(off));
const dropped = { export: (_spans, done) => done({ code: 0 }), shutdown: async () => {}, forceFlush: async () => {} };
const tracing = await startTracing(tracingSchema.parse({ enabled: true }), { exporter: dropped });
const on = clientFor(true);
const onRuns = [];
for (let r = 0; r < 5; r++) onRuns.push(await cpuPerCall(on));
await tracing.shutdown();
console.log(`calls per run: ${calls}, median of 5 runs`);
console.log(`tracing off: ${median(offRuns).toFixed(2)} µs CPU per call (the transport unchanged)`);
console.log(`tracing on:  ${median(onRuns).toFixed(2)} µs CPU per call (client, server and handler spans, all sampled)`);

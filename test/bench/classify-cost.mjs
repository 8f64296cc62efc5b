// Classification cost per request, in-process: short prompts and 32k-token prompts
// (fresh text every time, and a conversation whose history repeats), against the cost of
// decoding the same request from protobuf, measured in the same run.
// Usage: node test/bench/classify-cost.mjs [--runs 5] [--iterations 20000]
import { parseArgs } from "node:util";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { compileTierPolicy } from "@tiermesh/classifier";
import { loadConfig } from "@tiermesh/config";
import { ClassifyRequestSchema, CompletionInputSchema } from "@tiermesh/proto";

const { values } = parseArgs({ options: { runs: { type: "string", default: "5" }, iterations: { type: "string", default: "20000" } } });
const runs = Number(values.runs);
const iterations = Number(values.iterations);
const config = loadConfig(new URL("../../deploy/tiermesh.example.yaml", import.meta.url).pathname, {});
const classify = compileTierPolicy(config);

const words = "router tier latency budget gold silver bronze provider stream token request model deploy health".split(" ");
let seed = 1;
const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const text = (nWords) =>
  Array.from({ length: nWords }, () => words[Math.floor(rand() * words.length)] + (rand() < 0.1 ? "." : "")).join(" ");
const input = (content) => create(CompletionInputSchema, { messages: [{ role: "user", content }], urgency: "interactive" });

function measure(makeInput, n) {
  const inputs = Array.from({ length: n }, makeInput);
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    classify("demo", inputs[i]);
    times[i] = Number(process.hrtime.bigint() - t0) / 1_000;
  }
  times.sort();
  return { p50: times[Math.floor(n * 0.5)], p99: times[Math.floor(n * 0.99)] };
}

function decodeBaseline(makeInput, n) {
  const bytes = Array.from({ length: n }, () =>
    toBinary(ClassifyRequestSchema, create(ClassifyRequestSchema, { tenant: "demo", input: makeInput() })),
  );
  const times = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const t0 = process.hrtime.bigint();
    fromBinary(ClassifyRequestSchema, bytes[i]);
    times[i] = Number(process.hrtime.bigint() - t0) / 1_000;
  }
  times.sort();
  return { p50: times[Math.floor(n * 0.5)], p99: times[Math.floor(n * 0.99)] };
}

const shortPrompt = () => input(`Summarise our refund policy in two sentences for a customer: ${text(12)}`);
const LONG_WORDS = 29_000; // about 32k tokens
const historyBytes = toBinary(CompletionInputSchema, input(text(LONG_WORDS)));
const longFresh = () => input(text(LONG_WORDS));
// A conversation resends its history every turn: decoded from the wire each time, as the service sees it.
const longConversation = () => {
  const turn = fromBinary(CompletionInputSchema, historyBytes);
  turn.messages.push(create(CompletionInputSchema, { messages: [{ role: "user", content: text(20) }] }).messages[0]);
  return turn;
};

console.log(`32k prompt: ${classify("demo", longFresh()).promptTokens} tokens (o200k_base)`);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const cases = [
  ["short prompt", shortPrompt, iterations],
  ["32k prompt, fresh text", longFresh, 30],
  ["32k prompt, repeated history", longConversation, 300],
];
for (const [name, make, n] of cases) {
  measure(make, Math.min(n, 50)); // warm-up
  const r = Array.from({ length: runs }, () => ({ c: measure(make, n), d: decodeBaseline(make, n) }));
  const p50 = median(r.map((x) => x.c.p50));
  const p99 = median(r.map((x) => x.c.p99));
  const d50 = median(r.map((x) => x.d.p50));
  console.log(
    `${name.padEnd(30)} classify p50 ${p50.toFixed(1)} µs p99 ${p99.toFixed(1)} µs | protobuf decode p50 ${d50.toFixed(1)} µs | ratio p50 ${(p50 / d50).toFixed(1)}x (median of ${runs} runs × ${n})`,
  );
}
console.log("target: short prompt p99 < 50 µs");

// What one hop costs on this machine before any tiermesh logic runs (see overhead/hop-floor.mjs).
// Usage: node test/bench/hop-floor.mjs [--rate 500] [--seconds 8] [--runs 3] [--kinds mesh,connect,grpc-js,h2,h1]
import { parseArgs } from "node:util";
import { HOP_KINDS, measureHopFloor, renderHopFloor } from "./overhead/hop-floor.mjs";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "500" },
    seconds: { type: "string", default: "8" },
    runs: { type: "string", default: "3" },
    kinds: { type: "string", default: HOP_KINDS.join(",") },
  },
});
const [rate, seconds, runs] = [values.rate, values.seconds, values.runs].map(Number);
const kinds = values.kinds.split(",");
if (![rate, seconds, runs].every((n) => n > 0) || kinds.some((k) => !HOP_KINDS.includes(k))) {
  console.error(`usage: node test/bench/hop-floor.mjs [--rate N] [--seconds N] [--runs N] [--kinds ${HOP_KINDS.join(",")}]`);
  process.exit(2);
}
console.log(renderHopFloor(await measureHopFloor({ rate, seconds, runs, kinds })));

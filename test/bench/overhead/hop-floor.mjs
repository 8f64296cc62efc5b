// What one hop costs on this machine before any tiermesh logic runs: CPU per call of the mesh's
// router → executor hop as deployed (gRPC over grpc-js on both ends, through the runtime's
// transport and RPC server), of the same on connect-node (Connect protocol, as before), of bare
// @grpc/grpc-js with the same messages, of bare node:http2 with the same bytes, and of a bare
// HTTP/1.1 JSON exchange (what the HTTP edge and a provider call are made of). Client and
// server are separate processes (hop-peer.mjs); open-loop at a constant rate.
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { cpuMs } from "./proc-stats.mjs";

export const HOP_KINDS = ["mesh", "connect", "grpc-js", "h2", "h1"];
/** Calls the peer client makes before its measured window (2 s at 200/s). */
const WARMUP_CALLS = 400;
const peer = fileURLToPath(new URL("./hop-peer.mjs", import.meta.url));

async function firstLine(child) {
  let buf = "";
  for await (const chunk of child.stdout) {
    buf += chunk;
    const i = buf.indexOf("\n");
    if (i >= 0) return buf.slice(0, i);
  }
  throw new Error("hop peer exited without output");
}

/** One run of one kind: client CPU over its measured window, server CPU over the whole run (warm-up included, divided accordingly). */
async function measureOnce(kind, rate, seconds) {
  const server = spawn(process.execPath, [peer, "server", kind], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await firstLine(server);
    const client = spawn(process.execPath, [peer, "client", kind, port, String(rate), String(seconds)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    const s0 = cpuMs(server.pid);
    const result = JSON.parse(await firstLine(client));
    const serverMs = cpuMs(server.pid) - s0;
    await once(client, "exit");
    return { client: result.cpuMs / result.calls, server: serverMs / (result.calls + WARMUP_CALLS), errors: result.errors };
  } finally {
    server.kill();
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Median over `runs` runs of each kind (interleaved, so a machine drifting in speed affects every kind alike). */
export async function measureHopFloor({ rate = 500, seconds = 8, runs = 3, kinds = HOP_KINDS } = {}) {
  const measured = ["none", ...kinds];
  const byKind = new Map(measured.map((k) => [k, []]));
  for (let r = 0; r < runs; r++) for (const kind of measured) byKind.get(kind).push(await measureOnce(kind, rate, seconds));
  // The client's figures leave out what the load generator costs by itself (scheduling, timing).
  const generator = median(byKind.get("none").map((x) => x.client));
  return {
    rate,
    seconds,
    runs,
    generatorCpuMs: generator,
    hops: kinds.map((kind) => {
      const rs = byKind.get(kind);
      const client = median(rs.map((x) => x.client)) - generator;
      const server = median(rs.map((x) => x.server));
      return { kind, clientCpuMs: client, serverCpuMs: server, cpuMs: client + server, errors: rs.reduce((n, x) => n + x.errors, 0) };
    }),
  };
}

/** The floor as a markdown table. */
export function renderHopFloor(floor) {
  const lines = [
    `CPU per call of one hop alone, ${floor.rate} calls/s for ${floor.seconds} s, median of ${floor.runs} runs (client and server are separate processes; ` +
      `the client's figure leaves out the load generator's own ${floor.generatorCpuMs.toFixed(3)} ms per call):`,
    "",
    "| hop | client ms | server ms | both ms | errors |",
    "|---|---|---|---|---|",
  ];
  const label = {
    mesh: "router → executor as deployed: gRPC, grpc-js client and server, through tiermesh's transport and RPC server",
    connect: "the same on connect-node: Connect protocol, binary, HTTP/2",
    "grpc-js": "gRPC (@grpc/grpc-js), same messages",
    h2: "bare node:http2, same bytes",
    h1: "bare HTTP/1.1 + JSON (undici → node:http)",
  };
  for (const h of floor.hops) {
    lines.push(
      `| ${label[h.kind] ?? h.kind} | ${h.clientCpuMs.toFixed(3)} | ${h.serverCpuMs.toFixed(3)} | ${h.cpuMs.toFixed(3)} | ${h.errors} |`,
    );
  }
  return lines.join("\n");
}

// Drives the trace open-loop through the router's streaming RPC (each request starts at its
// offset whatever the others do), applies the incidents at their offsets, and records what
// the client saw for every request.
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { connect } from "@nats-io/transport-node";
import { RouterService, TierState } from "@tiermesh/proto";
import { createMeshTransport } from "@tiermesh/runtime";
import { decodeStatus } from "@tiermesh/tier-status";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const until = async (due) => {
  const wait = due - performance.now();
  if (wait > 1) await sleep(wait);
};

/** Follows tier status on NATS (through restarts) and keeps the state changes. */
export async function watchTierStates(natsUrl, origin) {
  const nc = await connect({ servers: natsUrl, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  const changes = [];
  const last = new Map();
  nc.subscribe("tiermesh.status.*", {
    callback: (_err, msg) => {
      const e = decodeStatus(msg.data);
      if (last.get(e.tier) === e.state) return;
      last.set(e.tier, e.state);
      changes.push({ atMs: Math.round(performance.now() - origin()), tier: e.tier, state: TierState[e.state], reason: e.reason });
    },
  });
  return { changes, close: () => nc.close() };
}

const stateNames = { 0: "unknown", 1: "healthy", 2: "degraded", 3: "down" };

/**
 * Samples the router's own view every `everyMs` from its /metrics (NATS connection, and
 * each tier's state with where it comes from: status, last-known, passive, none); keeps changes.
 */
export function watchRouterView(routerUrl, origin, everyMs = 500) {
  const changes = [];
  const last = new Map();
  const note = (key, value) => {
    if (last.get(key) === value) return;
    last.set(key, value);
    changes.push({ atMs: Math.round(performance.now() - origin()), what: key, value });
  };
  const timer = setInterval(async () => {
    try {
      const text = await (await fetch(`${routerUrl}/metrics`)).text();
      const nats = /^tiermesh_router_nats_connected(?:\{[^}]*\})? (\d)/m.exec(text);
      if (nats) note("nats", nats[1] === "1" ? "connected" : "disconnected");
      for (const m of text.matchAll(/^tiermesh_router_tier_state\{tier="([^"]+)",source="([^"]+)"[^}]*\} (\d)/gm)) {
        note(m[1], `${stateNames[m[3]] ?? m[3]} (${m[2]})`);
      }
    } catch {
      // The router is busy or stopping: the next sample will tell.
    }
  }, everyMs);
  return { changes, stop: () => clearInterval(timer) };
}

/**
 * Runs `trace` against the router at `routerUrl`. `keys`: API key per tenant; `incidents`
 * from incidentScript; `ctx` what they act on; `entitled` and `home` give a request's tier
 * under the production rules and under this policy's rules. Returns one record per request plus the
 * times incidents were actually applied and reverted (ms from the trace's start).
 */
export async function runTrace({ routerUrl, trace, keys, incidents, ctx, entitled, home, onStart }) {
  const client = createClient(RouterService, createMeshTransport(routerUrl));
  const t0 = performance.now() + 500;
  onStart?.(t0);
  const applied = [];
  const incidentRuns = incidents.map(async (inc) => {
    await until(t0 + inc.startMs);
    const a = performance.now() - t0;
    await inc.apply(ctx);
    await until(t0 + inc.endMs);
    const b = performance.now() - t0;
    await inc.revert(ctx);
    applied.push({ id: inc.id, appliedMs: Math.round(a), revertedMs: Math.round(b), revertDoneMs: Math.round(performance.now() - t0) });
  });

  const records = new Array(trace.length);
  const send = async (req) => {
    const started = performance.now();
    const rec = {
      i: req.i,
      startMs: started - t0,
      lagMs: started - (t0 + req.atMs),
      tenant: req.tenant,
      plan: req.plan,
      user: req.user,
      urgency: req.urgency,
      entitled: entitled(req.plan, req.urgency),
      home: home(req.plan, req.urgency),
      requested: "",
      served: "",
      ttftMs: NaN,
      totalMs: NaN,
      costUsd: 0,
      code: "",
      reasons: [],
    };
    records[req.i] = rec;
    try {
      let ttft;
      let done;
      const stream = client.completeStream(
        { input: { messages: [{ role: "user", content: req.prompt }], maxTokens: req.maxTokens, urgency: req.urgency, user: req.user } },
        { headers: { authorization: `Bearer ${keys[req.tenant]}` }, timeoutMs: 30_000 },
      );
      for await (const msg of stream) {
        if (msg.event.case === "delta") ttft ??= performance.now() - started;
        else if (msg.event.case === "done") done = msg.event.value;
      }
      if (!done) throw new ConnectError("stream ended without a result", Code.Unknown);
      rec.totalMs = performance.now() - started;
      rec.ttftMs = ttft ?? rec.totalMs;
      rec.requested = done.routing?.requestedTier ?? "";
      rec.served = done.routing?.servedTier ?? "";
      rec.costUsd = done.costUsd;
      rec.reasons = done.routing?.reasons ?? [];
      rec.providerAttempts = done.routing?.providerAttempts ?? 0;
      rec.model = done.model;
    } catch (err) {
      const e = ConnectError.from(err);
      rec.totalMs = performance.now() - started;
      rec.code = Code[e.code];
      rec.error = e.rawMessage;
    }
  };

  const inflight = [];
  for (const req of trace) {
    await until(t0 + req.atMs);
    inflight.push(send(req));
  }
  await Promise.all(inflight);
  await Promise.all(incidentRuns);
  return { records, applied: applied.sort((a, b) => a.appliedMs - b.appliedMs) };
}

/** Requests before the trace (JIT, connections, first SLI samples), 8 at a time; not recorded. */
export async function warmUp(routerUrl, trace, keys, count) {
  const client = createClient(RouterService, createMeshTransport(routerUrl));
  const queue = trace.slice(0, count);
  let failed = 0;
  const worker = async () => {
    for (let req = queue.shift(); req; req = queue.shift()) {
      try {
        for await (const _ of client.completeStream(
          { input: { messages: [{ role: "user", content: req.prompt }], maxTokens: 8, urgency: req.urgency, user: "warmup" } },
          { headers: { authorization: `Bearer ${keys[req.tenant]}` }, timeoutMs: 10_000 },
        ));
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return failed;
}

import { create } from "@bufbuild/protobuf";
import { TierState, TierStatusEventSchema, type TierStatusEvent } from "@tiermesh/proto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AlertWebhook } from "./alert-webhook.js";

interface Received {
  method: string | undefined;
  url: string | undefined;
  contentType: string | undefined;
  body: string;
}

const servers: Server[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** An HTTP server on a free port; `answer` decides what to do with each request once its body is read. */
async function startServer(answer: (res: ServerResponse, req: IncomingMessage) => void) {
  const received: Received[] = [];
  let onRequest: (r: Received) => void = () => {};
  const server = createServer((req, res) => {
    let body = "";
    req.setEncoding("utf8");
    req.on("data", (chunk: string) => (body += chunk));
    req.on("end", () => {
      const r = { method: req.method, url: req.url, contentType: req.headers["content-type"], body };
      received.push(r);
      onRequest(r);
      answer(res, req);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as AddressInfo;
  const next = () => new Promise<Received>((resolve) => (onRequest = resolve));
  return { url: `http://127.0.0.1:${port}/hooks/tiermesh`, received, next };
}

/** A logger whose `warned` promise settles on the first warn call. */
function makeLogger() {
  let resolveWarn: (args: [object, string]) => void = () => {};
  const warned = new Promise<[object, string]>((resolve) => (resolveWarn = resolve));
  const warn = vi.fn((obj: object, msg: string) => resolveWarn([obj, msg]));
  return { logger: { warn }, warn, warned };
}

const AT_MS = 1_767_225_600_000; // 2026-01-01T00:00:00.000Z

function downEvent(over: { tier?: string; sli?: undefined } = {}): TierStatusEvent {
  return create(TierStatusEventSchema, {
    tier: "gold",
    state: TierState.DOWN,
    previousState: TierState.DEGRADED,
    reason: "error rate 62% over 10 s",
    sequence: 9_007_199_254_740_993n, // 2^53 + 1: must survive as a string
    atMs: BigInt(AT_MS),
    sinceMs: BigInt(AT_MS - 5_000),
    monitorId: "monitor-a",
    sli: { sampleCount: 120, errorRate: 0.62, timeoutRate: 0.05, ttftP95Ms: 850, ttftP50Ms: 300 },
    ...over,
  });
}

describe("AlertWebhook", () => {
  it("POSTs the event as JSON with tier, reason, sequence as a string, time, monitor id and SLIs", async () => {
    const server = await startServer((res) => res.writeHead(204).end());
    const { logger, warn } = makeLogger();
    const hook = new AlertWebhook(server.url, 2_000, logger);
    const got = server.next();
    expect(hook.send(downEvent())).toBeUndefined();
    const r = await got;
    expect(r.method).toBe("POST");
    expect(r.url).toBe("/hooks/tiermesh");
    expect(r.contentType).toBe("application/json");
    const body = JSON.parse(r.body);
    expect(body).toMatchObject({
      tier: "gold",
      reason: "error rate 62% over 10 s",
      sequence: "9007199254740993",
      at: "2026-01-01T00:00:00.000Z",
      monitor_id: "monitor-a",
      sli: { samples: 120, error_rate: 0.62, timeout_rate: 0.05, ttft_p95_ms: 850 },
    });
    expect(typeof body.state).toBe("string");
    expect(typeof body.previous_state).toBe("string");
    // Let the response arrive: a 2xx is not worth a warning.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(warn).not.toHaveBeenCalled();
  });

  it("leaves sli out when the event has none", async () => {
    const server = await startServer((res) => res.writeHead(200).end("ok"));
    const { logger } = makeLogger();
    const got = server.next();
    new AlertWebhook(server.url, 2_000, logger).send(downEvent({ sli: undefined }));
    const body = JSON.parse((await got).body);
    expect(body).not.toHaveProperty("sli");
    expect(body.tier).toBe("gold");
  });

  // Regression (fixed): alert-webhook.ts:18-19 — `TierState[event.state]` is the TypeScript enum key
  // ("DOWN", "DEGRADED"), not the proto enum value name ("TIER_STATE_DOWN") that the README
  // documents for TierStatusEvent and that consumers of the protobuf/JSON form see. Fix:
  // `TierStateSchema.value[event.state]?.name ?? String(event.state)` (TierStateSchema from
  // @tiermesh/proto), likewise for previous_state.
  it("state and previous_state are sent as proto enum names (TIER_STATE_DOWN)", async () => {
    const server = await startServer((res) => res.writeHead(204).end());
    const { logger } = makeLogger();
    const got = server.next();
    new AlertWebhook(server.url, 2_000, logger).send(downEvent());
    const body = JSON.parse((await got).body);
    // Actual: { state: "DOWN", previous_state: "DEGRADED" }.
    expect(body).toMatchObject({ state: "TIER_STATE_DOWN", previous_state: "TIER_STATE_DEGRADED" });
  });

  it("warns (and does not throw) when the server answers 500", async () => {
    const server = await startServer((res) => res.writeHead(500).end("boom"));
    const { logger, warn, warned } = makeLogger();
    const hook = new AlertWebhook(server.url, 2_000, logger);
    expect(() => hook.send(downEvent())).not.toThrow();
    const [obj, msg] = await warned;
    expect(obj).toEqual({ status: 500, tier: "gold" });
    expect(msg).toBe("alert webhook refused the alert");
    expect(warn).toHaveBeenCalledTimes(1);
    expect(server.received).toHaveLength(1);
  });

  it("warns (and does not throw) when the URL is unreachable", async () => {
    // A port that was free a moment ago: nothing listens there now.
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", () => resolve()));
    const { port } = probe.address() as AddressInfo;
    await new Promise<void>((resolve) => probe.close(() => resolve()));

    const { logger, warn, warned } = makeLogger();
    const hook = new AlertWebhook(`http://127.0.0.1:${port}/hook`, 2_000, logger);
    expect(() => hook.send(downEvent({ tier: "silver" }))).not.toThrow();
    const [obj, msg] = await warned;
    expect(msg).toBe("alert webhook unreachable");
    expect(obj).toMatchObject({ tier: "silver" });
    expect((obj as { err: unknown }).err).toEqual(expect.any(String));
    expect(warn).toHaveBeenCalledTimes(1);
  });

  it("cuts a hanging server off at timeoutMs and warns", async () => {
    const server = await startServer(() => {
      /* never answers */
    });
    const { logger, warned } = makeLogger();
    const hook = new AlertWebhook(server.url, 200, logger);
    const started = performance.now();
    const returned = (() => {
      hook.send(downEvent());
      return performance.now() - started;
    })();
    expect(returned).toBeLessThan(100); // send() does not wait for the server
    const [obj, msg] = await warned;
    const elapsed = performance.now() - started;
    expect(msg).toBe("alert webhook unreachable");
    expect(String((obj as { err: unknown }).err)).toMatch(/timeout|abort/i);
    expect(elapsed).toBeGreaterThanOrEqual(150);
    expect(elapsed).toBeLessThan(2_000);
    expect(server.received).toHaveLength(1);
  });

  it("does not throw for a malformed URL; it warns instead", async () => {
    const { logger, warned } = makeLogger();
    const hook = new AlertWebhook("not a url", 200, logger);
    expect(() => hook.send(downEvent())).not.toThrow();
    const [, msg] = await warned;
    expect(msg).toBe("alert webhook unreachable");
  });
});

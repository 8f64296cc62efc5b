import { create } from "@bufbuild/protobuf";
import { TierState, TierStatusEventSchema } from "@tiermesh/proto";
import { createLogger, createRpcServer, type RpcServer } from "@tiermesh/runtime";
import { afterEach, describe, expect, it } from "vitest";
import { monitorTestConfig } from "../monitor-config.test-support.js";
import { StatusBoard } from "../status-board.js";
import { ConsoleAssets } from "./console-assets.js";
import { ConsoleHub } from "./console-hub.js";
import { createConsoleRoutes, type ConsoleRoutes } from "./console-routes.js";

const config = monitorTestConfig(`
  gold:
    rank: 1
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: g, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
`);

let server: RpcServer | undefined;
let routes: ConsoleRoutes | undefined;
afterEach(async () => {
  routes?.close();
  await server?.close(0);
  server = routes = undefined;
});

/** The console's routes on a real server on a free port, as the monitor mounts them. */
async function serve() {
  const board = new StatusBoard(config, { monitorId: "m1", firstSequence: 1n });
  const hub = new ConsoleHub({ config, monitorId: "m1", slis: (now) => board.slis(now), leading: () => true, natsConnected: () => true });
  routes = createConsoleRoutes(hub, new ConsoleAssets());
  const r = routes;
  server = createRpcServer({
    routes: () => undefined,
    serviceNames: [],
    logger: createLogger("test", "silent"),
    fallback(req, res) {
      if (r.handle(req, res)) return;
      res.writeHead(404);
      res.end();
    },
  });
  const port = await server.listen("127.0.0.1:0");
  return { hub, base: `http://127.0.0.1:${port}` };
}

/** Reads server-sent events from a response body, one at a time. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  return async (): Promise<{ event: string; data: unknown } | undefined> => {
    for (;;) {
      const end = buffered.indexOf("\n\n");
      if (end >= 0) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const lines = block.split("\n");
        const event = lines.find((l) => l.startsWith("event: "))?.slice(7);
        const data = lines.find((l) => l.startsWith("data: "))?.slice(6);
        if (event !== undefined && data !== undefined) return { event, data: JSON.parse(data) };
        continue;
      }
      const { value, done } = await reader.read();
      if (done) return undefined;
      buffered += value;
    }
  };
}

describe("console routes", () => {
  it("serves the page with a strict content policy, uPlot from the installed package, and revalidates by ETag", async () => {
    const { base } = await serve();
    const page = await fetch(`${base}/console/`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(page.headers.get("content-security-policy")).toContain("default-src 'self'");
    expect(await page.text()).toContain("vendor/uPlot.iife.min.js");

    const uplot = await fetch(`${base}/console/vendor/uPlot.iife.min.js`);
    expect(uplot.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(await uplot.text()).toContain("uPlot");
    const etag = uplot.headers.get("etag")!;
    expect((await fetch(`${base}/console/vendor/uPlot.iife.min.js`, { headers: { "if-none-match": etag } })).status).toBe(304);

    expect((await fetch(`${base}/`, { redirect: "manual" })).headers.get("location")).toBe("/console/");
    for (const path of ["/console/package.json", "/console/vendor/uPlot.esm.js", "/console/%2e%2e/package.json", "/metricsx"]) {
      expect((await fetch(`${base}${path}`)).status, path).toBe(404);
    }
    expect((await fetch(`${base}/console/snapshot.json`, { method: "POST" })).status).toBe(405);
  });

  it("answers a JSON snapshot", async () => {
    const { base } = await serve();
    const res = await fetch(`${base}/console/snapshot.json`);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ monitorId: "m1", tiers: [{ tier: "gold", state: "UNKNOWN" }], timeline: [], series: [] });
  });

  it("streams a snapshot, then status changes as they happen and ticks; shutdown ends the stream", async () => {
    const { hub, base } = await serve();
    const res = await fetch(`${base}/console/events`);
    expect(res.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    const next = sseReader(res.body!);
    expect(await next()).toMatchObject({ event: "snapshot", data: { tiers: [{ tier: "gold" }] } });
    expect(routes!.streams).toBe(1);

    hub.fromPublished(
      create(TierStatusEventSchema, { tier: "gold", state: TierState.DOWN, sequence: 2n, reason: "outage", monitorId: "leader" }),
      Date.now(),
    );
    expect(await next()).toMatchObject({
      event: "status",
      data: { entry: { tier: "gold", from: "UNKNOWN", to: "DOWN", reason: "outage" }, tier: { state: "DOWN" } },
    });
    hub.tick(Date.now());
    expect(await next()).toMatchObject({
      event: "tick",
      data: { tiers: [{ tier: "gold", state: "DOWN" }], point: { tiers: { gold: { servedPerSecond: 0 } } } },
    });

    routes!.close();
    expect(await next()).toBeUndefined();
    expect(routes!.streams).toBe(0);
  });

  it("forgets a client that went away", async () => {
    const { base } = await serve();
    const aborter = new AbortController();
    const res = await fetch(`${base}/console/events`, { signal: aborter.signal });
    await sseReader(res.body!)();
    expect(routes!.streams).toBe(1);
    aborter.abort();
    await expect.poll(() => routes!.streams).toBe(0);
  });
});

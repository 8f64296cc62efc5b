import type { ConsoleAssets } from "./console-assets.js";
import type { ConsoleHub } from "./console-hub.js";
import type { HttpRequest, HttpResponse } from "./http-types.js";
import { SseStream } from "./sse-stream.js";

/** Where the console lives on the monitor's port. */
export const CONSOLE_PATH = "/console/";

/**
 * Read-only: the page may load only its own files and talk only to its own origin
 * (uPlot sizes its elements through the style property, which a policy does not restrict).
 */
const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data:; style-src 'self'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
};

export interface ConsoleRoutes {
  /** Answers a console request and returns true; false for any other path. */
  handle(req: HttpRequest, res: HttpResponse): boolean;
  /** Open event streams. */
  readonly streams: number;
  /** Ends every event stream (shutdown), so the server need not wait for them. */
  close(): void;
}

/**
 * The console's HTTP surface: `/console/` (the page and its files), `/console/snapshot.json`
 * (everything the page shows, once) and `/console/events` (server-sent events: a `snapshot`,
 * then a `tick` every second and a `status` at every change of a tier's state). `/` sends
 * a browser to the console.
 */
export function createConsoleRoutes(hub: ConsoleHub, assets: ConsoleAssets, now: () => number = Date.now): ConsoleRoutes {
  const streams = new Set<SseStream>();

  const reply = (res: HttpResponse, status: number, headers: Record<string, string>, body?: Buffer | string) => {
    res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
    if (body === undefined) res.end();
    else res.end(body);
  };

  function events(res: HttpResponse): void {
    const stream = new SseStream(res);
    streams.add(stream);
    stream.send("snapshot", hub.snapshot(now()));
    const unsubscribe = hub.subscribe((m) => {
      if (!stream.send(m.type, m.data)) unsubscribe();
    });
    void stream.closed.then(() => {
      unsubscribe();
      streams.delete(stream);
    });
  }

  return {
    handle(req, res) {
      const path = new URL(req.url ?? "/", "http://console").pathname;
      if (path === "/" || path === "/console") {
        reply(res, 302, { location: CONSOLE_PATH });
        return true;
      }
      if (!path.startsWith(CONSOLE_PATH)) return false;
      if (req.method !== "GET" && req.method !== "HEAD") {
        reply(res, 405, { allow: "GET, HEAD", "content-type": "text/plain" }, "method not allowed");
        return true;
      }
      const rest = path.slice(CONSOLE_PATH.length);
      if (rest === "events") {
        events(res);
        return true;
      }
      if (rest === "snapshot.json") {
        reply(res, 200, { "content-type": "application/json", "cache-control": "no-store" }, JSON.stringify(hub.snapshot(now())));
        return true;
      }
      const asset = assets.get(rest);
      if (!asset) {
        reply(res, 404, { "content-type": "text/plain" }, "not found");
        return true;
      }
      const headers = { "content-type": asset.contentType, "cache-control": "no-cache", etag: asset.etag };
      if (req.headers["if-none-match"] === asset.etag) reply(res, 304, headers);
      else reply(res, 200, headers, req.method === "HEAD" ? undefined : asset.body);
      return true;
    },
    get streams() {
      return streams.size;
    },
    close() {
      for (const stream of streams) stream.close();
      streams.clear();
    },
  };
}

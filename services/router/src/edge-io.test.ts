import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EdgeError } from "./edge-error.js";
import { readBytes, sendJson } from "./edge-io.js";

const LIMIT = 1_024;

describe("reading a request body at the edge", () => {
  let server: http.Server;
  let url: string;
  beforeAll(async () => {
    server = http.createServer((req, res) => {
      readBytes(req, LIMIT).then(
        (body) => sendJson(res, 200, { bytes: body.length, text: body.toString("utf8") }),
        (err: unknown) => sendJson(res, err instanceof EdgeError ? err.status : 500, { error: String(err) }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("gives the whole body, however it was split", async () => {
    const parts = ["héllo ", "wörld ", "x".repeat(300)];
    const res = await fetch(url, {
      method: "POST",
      body: new ReadableStream({
        start(c) {
          for (const p of parts) c.enqueue(new TextEncoder().encode(p));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { text: string }).text).toBe(parts.join(""));
  });

  it("gives an empty body as empty", async () => {
    const res = await fetch(url, { method: "POST" });
    expect(await res.json()).toEqual({ bytes: 0, text: "" });
  });

  it("refuses a body over the limit with 413, and the connection still answers", async () => {
    const res = await fetch(url, { method: "POST", body: "y".repeat(LIMIT + 1) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toContain(`over ${LIMIT} bytes`);
    const ok = await fetch(url, { method: "POST", body: "y".repeat(LIMIT) });
    expect(((await ok.json()) as { bytes: number }).bytes).toBe(LIMIT);
  });
});

import http from "node:http";
import type { AddressInfo } from "node:net";
import { freePort } from "@tiermesh/process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EnvelopeReader, encodeEnvelope } from "./connect-envelope.js";
import { callRouter, CANCELLED, UNANSWERED } from "./router-call.js";

const json = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const shape = { urgency: "interactive", tierHint: "", apiKey: "k1", timeoutMs: 5_000 };
const now = () => performance.now();

/** A stand-in router speaking Connect streaming; the request's user id picks the behaviour. */
let server: http.Server;
let url: string;
const seen: { headers: http.IncomingHttpHeaders; body: unknown }[] = [];

beforeAll(async () => {
  server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const [env] = new EnvelopeReader().push(new Uint8Array(Buffer.concat(chunks)));
    const body = JSON.parse(new TextDecoder().decode(env!.data)) as { input: { user?: string } };
    seen.push({ headers: req.headers, body });
    const user = body.input.user ?? "";
    if (user === "missing") return res.writeHead(404).end("no such method");
    res.writeHead(200, { "content-type": "application/connect+json" });
    if (user === "fails") return res.end(encodeEnvelope(2, json({ error: { code: "unavailable", message: "every tier failed" } })));
    if (user === "silent") return; // never answers
    res.write(encodeEnvelope(0, json({ delta: "Hel" })));
    await sleep(250);
    res.write(encodeEnvelope(0, json({ delta: "lo" })));
    const done = {
      routing: { requestedTier: "gold", servedTier: "silver", tierAttempts: 2, providerAttempts: 3 },
      timings: { ttftUs: "12500" },
    };
    res.end(new Uint8Array([...encodeEnvelope(0, json({ done })), ...encodeEnvelope(2, json({}))]));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("callRouter", () => {
  it("sends a Connect streaming request and measures the first piece of the answer and the end", async () => {
    const s = await callRouter(url, now(), 7, "u1", shape, now, new AbortController().signal);
    expect(s).toMatchObject({
      seq: 7,
      user: "u1",
      ok: true,
      requestedTier: "gold",
      servedTier: "silver",
      tierAttempts: 2,
      providerAttempts: 3,
      serverTtftMs: 12.5,
    });
    // The answer's end came 250 ms after its first piece (less whatever the first read lagged).
    expect(s.endedAt - s.firstTokenAt!).toBeGreaterThanOrEqual(100);
    expect(s.firstTokenAt! - s.sentAt).toBeGreaterThan(0);
    const req = seen.at(-1)!;
    expect(req.headers).toMatchObject({
      "content-type": "application/connect+json",
      "connect-protocol-version": "1",
      "connect-timeout-ms": "5000",
      authorization: "Bearer k1",
    });
    expect(req.body).toEqual({
      input: {
        messages: [{ role: "user", content: expect.stringContaining("Drill request 7") }],
        maxTokens: 64,
        urgency: "interactive",
        user: "u1",
      },
    });
  });

  it("leaves out the user id for callers without one", async () => {
    await callRouter(url, now(), 8, "", shape, now, new AbortController().signal);
    expect(seen.at(-1)!.body).not.toHaveProperty("input.user");
  });

  it("records the Connect error code, HTTP errors and unreachable routers as failed samples", async () => {
    const signal = new AbortController().signal;
    expect(await callRouter(url, now(), 1, "fails", shape, now, signal)).toMatchObject({
      ok: false,
      errorCode: "unavailable",
      errorMessage: "every tier failed",
    });
    expect(await callRouter(url, now(), 2, "missing", shape, now, signal)).toMatchObject({ ok: false, errorCode: "http_404" });
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await callRouter(closed, now(), 3, "u", shape, now, signal)).toMatchObject({
      ok: false,
      errorCode: "network",
      errorMessage: "ECONNREFUSED",
    });
  });

  it("tells a request cut off by Ctrl-C from one given up on past its deadline", async () => {
    const stop = new AbortController();
    const cut = callRouter(url, now(), 4, "silent", shape, now, stop.signal);
    await sleep(50);
    stop.abort();
    expect(await cut).toMatchObject({ ok: false, errorCode: CANCELLED });
    const giveUp = new AbortController();
    const late = callRouter(url, now(), 5, "silent", shape, now, giveUp.signal);
    await sleep(50);
    giveUp.abort(UNANSWERED);
    expect(await late).toMatchObject({ ok: false, errorCode: UNANSWERED });
  });
});

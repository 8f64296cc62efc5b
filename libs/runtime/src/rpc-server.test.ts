import * as http from "node:http";
import * as net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { createRpcServer, type RpcServer } from "./rpc-server.js";

describe("RpcServer.close", () => {
  let server: RpcServer | undefined;
  afterEach(async () => server?.close(0));

  it("does not wait for an idle HTTP/1.1 keep-alive client", async () => {
    server = createRpcServer({ routes: () => undefined, serviceNames: [], logger: createLogger("test", "silent") });
    const port = await server.listen("127.0.0.1:0");
    const agent = new http.Agent({ keepAlive: true });
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get({ port, host: "127.0.0.1", path: "/nowhere", agent }, (res) => {
          res.resume();
          res.on("end", () => resolve(res.statusCode ?? 0));
        })
        .on("error", reject);
    });
    expect(status).toBe(404);
    const started = Date.now();
    await server.close(5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    agent.destroy();
  });

  it("does not wait for a connection that never sent a request (a browser's spare connection)", async () => {
    server = createRpcServer({ routes: () => undefined, serviceNames: [], logger: createLogger("test", "silent") });
    const port = await server.listen("127.0.0.1:0");
    const spare = net.connect(port, "127.0.0.1");
    await new Promise((resolve) => spare.once("connect", resolve));
    const started = Date.now();
    await server.close(5_000);
    expect(Date.now() - started).toBeLessThan(1_000);
    spare.destroy();
  });

  it("lets a request in flight on a keep-alive connection finish, then closes it", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    server = createRpcServer({
      routes: () => undefined,
      serviceNames: [],
      logger: createLogger("test", "silent"),
      fallback: (_req, res) => void released.then(() => res.end("late")),
    });
    const port = await server.listen("127.0.0.1:0");
    const agent = new http.Agent({ keepAlive: true });
    const body = new Promise<string>((resolve, reject) => {
      http
        .get({ port, host: "127.0.0.1", path: "/slow", agent }, (res) => {
          let text = "";
          res.on("data", (d: Buffer) => (text += d.toString()));
          res.on("end", () => resolve(text));
        })
        .on("error", reject);
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close(5_000);
    setTimeout(release, 200);
    expect(await body).toBe("late");
    const started = Date.now();
    await closing;
    expect(Date.now() - started).toBeLessThan(1_000);
    agent.destroy();
  });
});

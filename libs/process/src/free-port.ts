import { createServer } from "node:net";

/** Ports this process handed out lately: the OS may offer a port again once it is closed. */
const recent: number[] = [];
const RECENT = 512;

function probe(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A loopback port free now, and not one this process handed out among its last 512: several
 * services configured in a row must not be given the same port before any of them listens.
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await probe();
    if (recent.includes(port)) continue;
    recent.push(port);
    if (recent.length > RECENT) recent.shift();
    return port;
  }
}

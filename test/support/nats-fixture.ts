import { connect, type NatsConnection } from "@nats-io/transport-node";
import { startNatsServer, type NatsServer } from "@tiermesh/process";
import { afterAll, beforeAll } from "vitest";

/** A private nats-server for the tests of one file, and a connection to it. */
export interface NatsFixture {
  readonly server: NatsServer;
  readonly nc: NatsConnection;
}

/**
 * Starts a private nats-server and connects to it before the file's tests (before the file's
 * own `beforeAll` hooks registered after this call), and closes both after them (after the
 * file's own `afterAll` hooks). Read `server` and `nc` inside tests and hooks only.
 */
export function useNatsServer(): NatsFixture {
  let server: NatsServer | undefined;
  let nc: NatsConnection | undefined;
  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
  });
  afterAll(async () => {
    await nc?.close();
    await server?.dispose();
  });
  return {
    get server() {
      return started(server);
    },
    get nc() {
      return started(nc);
    },
  };
}

function started<T>(value: T | undefined): T {
  if (value === undefined) throw new Error("useNatsServer: read before its beforeAll hook ran; read it inside tests and hooks");
  return value;
}

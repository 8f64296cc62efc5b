import type * as http from "node:http";
import type * as net from "node:net";

/**
 * The HTTP/1.1 connections of a server that never listens itself (the port's multiplexer hands
 * it its sockets). Node tracks connections only for servers that listen, so its own
 * `closeIdleConnections` cannot see these, and one idle keep-alive client (a metrics scraper,
 * a curl) would hold shutdown open until the keep-alive timeout.
 */
export class Http1Connections {
  /** Requests in flight per connection. */
  private readonly inFlight = new Map<net.Socket, number>();
  private draining = false;

  constructor(server: http.Server) {
    server.on("connection", (socket: net.Socket) => {
      this.inFlight.set(socket, 0);
      socket.once("close", () => this.inFlight.delete(socket));
    });
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      const socket = req.socket;
      this.inFlight.set(socket, (this.inFlight.get(socket) ?? 0) + 1);
      if (this.draining) res.shouldKeepAlive = false;
      res.once("close", () => {
        const count = this.inFlight.get(socket);
        if (count === undefined) return;
        this.inFlight.set(socket, count - 1);
        if (this.draining && count - 1 === 0) socket.end();
      });
    });
  }

  /** Closes idle connections now, and every other one once its last request is answered. */
  drain(): void {
    this.draining = true;
    for (const [socket, count] of this.inFlight) if (count === 0) socket.destroy();
  }

  /** Closes every connection, answered or not. */
  destroyAll(): void {
    for (const socket of this.inFlight.keys()) socket.destroy();
  }
}

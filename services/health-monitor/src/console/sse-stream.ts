import type { HttpResponse } from "./http-types.js";

export interface SseStreamOptions {
  /** A comment line this often keeps proxies and the browser from timing the stream out. */
  keepAliveMs?: number;
  /** A client this far behind (bytes not yet taken by the socket) is cut off; it reconnects. */
  maxBufferedBytes?: number;
  /** How long the browser waits before reconnecting after the stream ends. */
  retryMs?: number;
}

/**
 * One server-sent-events response: named events with JSON data. Ends when the client goes
 * away, when `close` is called (shutdown), or when the client reads too slowly to keep up.
 */
export class SseStream {
  private open = true;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly maxBufferedBytes: number;
  readonly closed: Promise<void>;

  constructor(
    private readonly res: HttpResponse,
    options: SseStreamOptions = {},
  ) {
    this.maxBufferedBytes = options.maxBufferedBytes ?? 1 << 20;
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
      "x-accel-buffering": "no",
    });
    res.write(`retry: ${options.retryMs ?? 1_000}\n\n`);
    this.keepAlive = setInterval(() => this.write(": keep-alive\n\n"), options.keepAliveMs ?? 15_000);
    this.keepAlive.unref();
    this.closed = new Promise((resolve) => res.once("close", () => resolve()));
    void this.closed.then(() => this.stop());
  }

  get isOpen(): boolean {
    return this.open;
  }

  /** Sends one event; false when the stream is over. */
  send(event: string, data: unknown): boolean {
    return this.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  close(): void {
    if (!this.open) return;
    this.stop();
    this.res.end();
  }

  private write(text: string): boolean {
    if (!this.open) return false;
    if (this.res.writableLength > this.maxBufferedBytes) {
      this.close();
      return false;
    }
    this.res.write(text);
    return true;
  }

  private stop(): void {
    this.open = false;
    clearInterval(this.keepAlive);
  }
}

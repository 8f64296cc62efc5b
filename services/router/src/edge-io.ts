import type * as http from "node:http";
import { EdgeError } from "./edge-error.js";

const MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * A request's body, refused with 413 past `maxBytes`. Read with 'data' events rather than an
 * async iterator: the iterator costs a stream wrapper and several promises per request.
 */
export function readBytes(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) return void chunks.push(chunk);
      cleanup();
      // Stop reading what is left; the 413 goes out on this connection.
      req.resume();
      reject(new EdgeError(413, `request body over ${maxBytes} bytes`));
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      if (req.complete) return;
      cleanup();
      reject(new EdgeError(400, "the request body ended early"));
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

/** A JSON request's body as text (at most 8 MiB). */
export async function readBody(req: http.IncomingMessage): Promise<string> {
  return (await readBytes(req, MAX_BODY_BYTES)).toString("utf8");
}

export function sendJson(res: http.ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

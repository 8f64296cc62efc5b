import type * as http from "node:http";
import { EdgeError } from "./edge-error.js";

const MAX_BODY_BYTES = 8 * 1024 * 1024;

/** A request's body, refused with 413 past `maxBytes`. */
export async function readBytes(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new EdgeError(413, `request body over ${maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
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

import type * as http from "node:http";
import { z } from "zod";
import { batchObject, type StoredFile } from "@tiermesh/jobs";
import type { BatchDesk } from "./batch-desk.js";
import { EdgeError } from "./edge-error.js";
import { readBody, readBytes, sendJson } from "./edge-io.js";

/** Largest batch input file accepted. */
const MAX_FILE_BYTES = 100 * 1024 * 1024;
const FILES = "/v1/files";
const BATCHES = "/v1/batches";
export const BATCH_ROUTES = [FILES, BATCHES];

const createSchema = z.object({
  input_file_id: z.string().min(1),
  endpoint: z.string(),
  completion_window: z.string(),
  metadata: z.record(z.string(), z.string()).nullish(),
});

const fileObject = (f: StoredFile) => ({
  id: f.id,
  object: "file",
  bytes: f.bytes,
  created_at: f.createdAt,
  filename: f.filename,
  purpose: f.purpose,
  status: "processed",
  status_details: null,
});

/**
 * The OpenAI Batch API subset of the HTTP edge: `POST /v1/files` (multipart upload, purpose
 * "batch"), `GET /v1/files/{id}` and `/content`, `POST /v1/batches`, `GET /v1/batches/{id}`,
 * `GET /v1/batches` (`after`, `limit`) and `POST /v1/batches/{id}/cancel`. Returns false for
 * any other path.
 */
export async function serveBatchApi(desk: BatchDesk, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
  // Every chat completion passes here first: leave at once, before parsing anything.
  const raw = req.url ?? "/";
  if (!raw.startsWith(FILES) && !raw.startsWith(BATCHES)) return false;
  const url = new URL(raw, "http://edge");
  const path = url.pathname;
  const auth = typeof req.headers.authorization === "string" ? req.headers.authorization : null;
  const method = req.method ?? "GET";
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  if (path === FILES || path.startsWith(`${FILES}/`)) {
    if (parts.length === 2) {
      if (method !== "POST") throw new EdgeError(405, `${path} takes POST`);
      const form = await formOf(req);
      const file = form.get("file");
      const purpose = form.get("purpose");
      if (!(file instanceof Blob)) throw new EdgeError(400, "file: required (multipart/form-data)", "file", "missing_required_parameter");
      if (typeof purpose !== "string") throw new EdgeError(400, "purpose: required", "purpose", "missing_required_parameter");
      const name = file instanceof File ? file.name : "upload.jsonl";
      sendJson(res, 200, fileObject(await desk.upload(auth, name, purpose, new Uint8Array(await file.arrayBuffer()))));
      return true;
    }
    if (method !== "GET") throw new EdgeError(405, `${path} takes GET`);
    if (parts.length === 3) {
      sendJson(res, 200, fileObject(await desk.file(auth, parts[2]!)));
      return true;
    }
    if (parts.length === 4 && parts[3] === "content") {
      const data = await desk.content(auth, parts[2]!);
      res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.byteLength });
      res.end(data);
      return true;
    }
    throw new EdgeError(404, `no route for ${method} ${path}`);
  }
  if (path === BATCHES || path.startsWith(`${BATCHES}/`)) {
    if (parts.length === 2 && method === "POST") {
      let json: unknown;
      try {
        json = JSON.parse(await readBody(req));
      } catch {
        throw new EdgeError(400, "request body is not valid JSON");
      }
      const parsed = createSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        throw new EdgeError(400, `${issue.path.join(".")}: ${issue.message}`, issue.path.join(".") || null, "invalid_request");
      }
      sendJson(res, 200, batchObject(await desk.create(auth, parsed.data)));
      return true;
    }
    if (parts.length === 2 && method === "GET") {
      const limit = Math.min(100, Math.max(1, Number(url.searchParams.get("limit") ?? 20) || 20));
      const after = url.searchParams.get("after") ?? undefined;
      const { data, hasMore } = await desk.list(auth, after, limit);
      sendJson(res, 200, {
        object: "list",
        data: data.map(batchObject),
        first_id: data[0]?.id ?? null,
        last_id: data.at(-1)?.id ?? null,
        has_more: hasMore,
      });
      return true;
    }
    if (parts.length === 3 && method === "GET") {
      sendJson(res, 200, batchObject(await desk.get(auth, parts[2]!)));
      return true;
    }
    if (parts.length === 4 && parts[3] === "cancel" && method === "POST") {
      sendJson(res, 200, batchObject(await desk.cancel(auth, parts[2]!)));
      return true;
    }
    throw new EdgeError(404, `no route for ${method} ${path}`);
  }
  return false;
}

/** A multipart/form-data body, parsed by the Fetch API's own parser (undici, built into Node). */
async function formOf(req: http.IncomingMessage): Promise<FormData> {
  const type = req.headers["content-type"] ?? "";
  if (!type.startsWith("multipart/form-data")) throw new EdgeError(415, "expected a multipart/form-data body");
  const body = await readBytes(req, MAX_FILE_BYTES);
  try {
    return await new Request("http://edge/", { method: "POST", headers: { "content-type": type }, body }).formData();
  } catch {
    throw new EdgeError(400, "the multipart/form-data body could not be parsed");
  }
}

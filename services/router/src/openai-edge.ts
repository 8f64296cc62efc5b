import type * as http from "node:http";
import type * as http2 from "node:http2";
import { Code, ConnectError } from "@connectrpc/connect";
import { RETRY_AFTER_HEADER } from "@tiermesh/proto";
import { nodeHeaders, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@tiermesh/telemetry";
import { CallAbortController } from "@tiermesh/runtime";
import { EdgeError } from "./edge-error.js";
import { readBody, sendJson } from "./edge-io.js";
import type { BatchDesk } from "./batch-desk.js";
import { BATCH_ROUTES, serveBatchApi } from "./openai-batches.js";
import { httpStatusOf, openAIErrorDetail, openAIErrorType } from "./http-status.js";
import { parseChatBody, toInput } from "./openai-request.js";
import { completionBody, extensionOf, modelObject, toolCallDelta, usageOf } from "./openai-response.js";
import type { RouterCore } from "./router-core.js";

// The edge uses only what HTTP/1.1 and HTTP/2 compatibility requests and responses share.
type Req = http.IncomingMessage;
type Res = http.ServerResponse;

const MODELS_PATH = "/v1/models";
const ROUTES = ["/v1/chat/completions", MODELS_PATH, ...BATCH_ROUTES];

/**
 * The OpenAI-compatible HTTP edge of the router, with the same authentication, classification
 * and routing as the RPC: `POST /v1/chat/completions` (unary and SSE streaming, tool calls
 * included) and `GET /v1/models` (`/v1/models/{id}`), the model names the caller's plan may use.
 * Urgency and tier hint come from `x-tiermesh-urgency` and `x-tiermesh-tier`.
 */
export function createOpenAIEdge(core: RouterCore, onError: (err: unknown) => void, tracer?: Tracer, batches?: BatchDesk) {
  /** `created` of every model: when this router started. */
  const started = Math.floor(Date.now() / 1_000);

  return (rawReq: http.IncomingMessage | http2.Http2ServerRequest, rawRes: object): void => {
    const req = rawReq as Req;
    const res = rawRes as Res;
    const span = tracer && startEdgeSpan(tracer, req, res);
    handle(req, res, span).catch((cause: unknown) => {
      const err = cause instanceof EdgeError ? cause : ConnectError.from(cause);
      if (!(err instanceof EdgeError) && err.code === Code.Internal) onError(cause);
      if (res.headersSent) {
        res.end();
        return;
      }
      const status = err instanceof EdgeError ? err.status : httpStatusOf(err);
      const message = err instanceof EdgeError ? err.message : err.rawMessage;
      const retryAfter = err instanceof EdgeError ? null : err.metadata.get(RETRY_AFTER_HEADER);
      if (retryAfter) res.setHeader("retry-after", retryAfter);
      const detail =
        err instanceof EdgeError ? { type: openAIErrorType(status), param: err.param, code: err.code } : openAIErrorDetail(err, status);
      if (status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message });
      sendJson(res, status, { error: { message, ...detail } });
    });
  };

  async function handle(req: Req, res: Res, span: Span | undefined): Promise<void> {
    const path = (req.url ?? "").split("?")[0] ?? "";
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === "string" ? v : undefined;
    };
    if (path === MODELS_PATH || path.startsWith(`${MODELS_PATH}/`)) {
      if (req.method !== "GET") throw new EdgeError(405, `${path} takes GET`);
      const models = core.models(header("authorization") ?? null);
      if (path === MODELS_PATH) return sendJson(res, 200, { object: "list", data: models.map((m) => modelObject(m, started)) });
      const id = decodeURIComponent(path.slice(MODELS_PATH.length + 1));
      const model = models.find((m) => m.id === id);
      if (!model) throw new EdgeError(404, `The model "${id}" does not exist or your plan may not use it`, "model", "model_not_found");
      return sendJson(res, 200, modelObject(model, started));
    }
    if (batches && (await serveBatchApi(batches, req, res))) return;
    if (path !== "/v1/chat/completions") throw new EdgeError(404, `no route for ${req.method} ${path}`);
    if (req.method !== "POST") throw new EdgeError(405, `${path} takes POST`);
    const body = parseChatBody(await readBody(req));
    const controller = new CallAbortController();
    // The caller left before the answer was complete (a finished response needs no abort).
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const input = toInput(body, header("x-tiermesh-urgency"), header("x-tiermesh-tier"));
    const call = {
      input,
      authorization: header("authorization") ?? null,
      timeoutMs: undefined,
      signal: controller.signal,
      trace: span && trace.setSpan(ROOT_CONTEXT, span),
    };
    if (!body.stream) {
      const r = await core.complete(call);
      res.setHeader("x-tiermesh-requested-tier", r.routing?.requestedTier ?? "");
      res.setHeader("x-tiermesh-served-tier", r.routing?.servedTier ?? "");
      sendJson(res, 200, completionBody(r, Math.floor(Date.now() / 1_000)));
      return;
    }
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1_000);
    const data = (payload: object) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, ...payload })}\n\n`;
    const chunk = (model: string, delta: object, finish: string | null, extra: object = {}) =>
      data({ model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
    try {
      for await (const event of core.completeStream(call)) {
        // The role chunk leaves with the first event, in one write.
        let head = "";
        if (!res.headersSent) {
          res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
          head = chunk(body.model, { role: "assistant", content: "" }, null);
        }
        if (event.case === "delta") {
          res.write(head + chunk(body.model, { content: event.value }, null));
        } else if (event.case === "toolCall") {
          res.write(head + chunk(body.model, toolCallDelta(event.value), null));
        } else {
          if (head) res.write(head);
          const r = event.value;
          if (input.includeUsage) {
            // As OpenAI: usage in a last chunk of its own, with no choices.
            res.write(chunk(r.model, {}, r.finishReason, { tiermesh: extensionOf(r) }));
            res.write(data({ model: r.model, choices: [], usage: usageOf(r) }));
          } else {
            res.write(chunk(r.model, {}, r.finishReason, { usage: usageOf(r), tiermesh: extensionOf(r) }));
          }
          res.end("data: [DONE]\n\n");
        }
      }
    } catch (cause) {
      if (!res.headersSent) throw cause;
      // A stream cut mid-answer ends with an explicit error event, never a clean [DONE].
      const err = ConnectError.from(cause);
      const status = httpStatusOf(err);
      res.end(
        `event: error\ndata: ${JSON.stringify({ error: { message: err.rawMessage, type: openAIErrorType(status), code: status } })}\n\n`,
      );
    }
  }
}

/**
 * The SERVER span of one HTTP request, child of the caller's W3C trace context; ends when the
 * response does (or the connection closes), with its status code.
 */
function startEdgeSpan(tracer: Tracer, req: Req, res: Res): Span {
  const parent = propagation.extract(ROOT_CONTEXT, req.headers, nodeHeaders);
  const path = (req.url ?? "").split("?")[0] ?? "";
  const route = ROUTES.find((r) => path === r || path.startsWith(`${r}/`));
  const span = tracer.startSpan(
    `${req.method ?? "GET"} ${route ?? "(unknown route)"}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        "http.request.method": req.method ?? "GET",
        "url.path": path,
        "url.scheme": "http",
        ...(route ? { "http.route": route } : {}),
      },
    },
    parent,
  );
  res.once("close", () => {
    span.setAttribute("http.response.status_code", res.statusCode);
    if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    if (!res.writableFinished) span.setAttribute("error.type", "client_closed");
    span.end();
  });
  return span;
}

import type * as http from "node:http";
import type * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { CompletionInputSchema, RETRY_AFTER_HEADER, type CompleteResponse, type CompletionInput } from "@tiermesh/proto";
import { nodeHeaders, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from "@tiermesh/telemetry";
import { z } from "zod";
import { httpStatusOf, openAIErrorDetail, openAIErrorType } from "./http-status.js";
import type { RouterCore } from "./router-core.js";

// The edge uses only what HTTP/1.1 and HTTP/2 compatibility requests and responses share.
type Req = http.IncomingMessage;
type Res = http.ServerResponse;

const MAX_BODY_BYTES = 8 * 1024 * 1024;

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const messageSchema = z.object({
  role: z.enum(["system", "developer", "user", "assistant", "tool"]),
  content: z.union([z.string(), z.array(textPart), z.null()]),
});
/**
 * The OpenAI chat-completions body. Fields such as `service_tier` or `priority` are
 * accepted and ignored: nothing in a body can raise a request's tier.
 */
const bodySchema = z.object({
  model: z.string().default(""),
  messages: z.array(messageSchema).min(1),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  stream: z.boolean().nullish(),
  user: z.string().nullish(),
  response_format: z.object({ type: z.enum(["text", "json_object", "json_schema"]) }).nullish(),
  tools: z
    .array(
      z.object({
        type: z.literal("function"),
        function: z.object({ name: z.string().min(1), description: z.string().optional(), parameters: z.unknown().optional() }),
      }),
    )
    .nullish(),
});

class EdgeError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

/**
 * The OpenAI-compatible HTTP edge of the router: `POST /v1/chat/completions` (unary and
 * SSE streaming) with the same authentication, classification and routing as the RPC.
 * Urgency and tier hint come from `x-tiermesh-urgency` and `x-tiermesh-tier`.
 */
export function createOpenAIEdge(core: RouterCore, onError: (err: unknown) => void, tracer?: Tracer) {
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
      const detail = err instanceof EdgeError ? { param: err.param, code: null } : openAIErrorDetail(err);
      if (status >= 500) span?.setStatus({ code: SpanStatusCode.ERROR, message });
      sendJson(res, status, { error: { message, type: openAIErrorType(status), ...detail } });
    });
  };

  async function handle(req: Req, res: Res, span: Span | undefined): Promise<void> {
    const path = (req.url ?? "").split("?")[0];
    if (path !== "/v1/chat/completions") throw new EdgeError(404, `no route for ${req.method} ${path}`);
    if (req.method !== "POST") throw new EdgeError(405, `${path} takes POST`);
    const body = parseBody(await readBody(req));
    const controller = new AbortController();
    // The caller left before the answer was complete (a finished response needs no abort).
    res.on("close", () => {
      if (!res.writableFinished) controller.abort();
    });
    const header = (name: string) => {
      const v = req.headers[name];
      return typeof v === "string" ? v : undefined;
    };
    const call = {
      input: toInput(body, header("x-tiermesh-urgency"), header("x-tiermesh-tier")),
      authorization: header("authorization") ?? null,
      timeoutMs: undefined,
      signal: controller.signal,
      trace: span && trace.setSpan(ROOT_CONTEXT, span),
    };
    if (!body.stream) {
      const r = await core.complete(call);
      res.setHeader("x-tiermesh-requested-tier", r.routing?.requestedTier ?? "");
      res.setHeader("x-tiermesh-served-tier", r.routing?.servedTier ?? "");
      sendJson(res, 200, {
        id: `chatcmpl-${r.id}`,
        object: "chat.completion",
        created: Math.floor(Date.now() / 1_000),
        model: r.model,
        choices: [{ index: 0, message: { role: "assistant", content: r.content }, finish_reason: r.finishReason }],
        usage: usageOf(r),
        tiermesh: extension(r),
      });
      return;
    }
    const id = `chatcmpl-${crypto.randomUUID()}`;
    const created = Math.floor(Date.now() / 1_000);
    const chunk = (model: string, delta: object, finish: string | null, extra: object = {}) =>
      `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
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
        } else {
          if (head) res.write(head);
          const r = event.value;
          res.write(chunk(r.model, {}, r.finishReason, { usage: usageOf(r), tiermesh: extension(r) }));
          res.end("data: [DONE]\n\n");
        }
      }
    } catch (cause) {
      if (!res.headersSent) throw cause;
      // A stream cut mid-answer ends with an explicit error event, never a clean [DONE].
      const err = ConnectError.from(cause);
      const status = httpStatusOf(err);
      res.end(`event: error\ndata: ${JSON.stringify({ error: { message: err.rawMessage, type: openAIErrorType(status), code: status } })}\n\n`);
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
  const span = tracer.startSpan(
    `${req.method ?? "GET"} ${path === "/v1/chat/completions" ? path : "(unknown route)"}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "http.request.method": req.method ?? "GET", "url.path": path, "url.scheme": "http", ...(path === "/v1/chat/completions" ? { "http.route": path } : {}) },
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

function parseBody(text: string) {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new EdgeError(400, "request body is not valid JSON");
  }
  const parsed = bodySchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.map(String).join(".");
    throw new EdgeError(400, `${param || "body"}: ${issue.message}`, param || null);
  }
  return parsed.data;
}

function toInput(body: z.output<typeof bodySchema>, urgency: string | undefined, tierHint: string | undefined): CompletionInput {
  return create(CompletionInputSchema, {
    messages: body.messages.map((m) => ({
      role: m.role === "developer" ? "system" : m.role,
      content: typeof m.content === "string" ? m.content : (m.content ?? []).map((p) => p.text).join(""),
    })),
    maxTokens: body.max_completion_tokens ?? body.max_tokens ?? 0,
    ...(body.temperature != null ? { temperature: body.temperature } : {}),
    urgency: urgency ?? "",
    tierHint: tierHint ?? "",
    user: body.user ?? "",
    model: body.model,
    jsonMode: body.response_format?.type === "json_object" || body.response_format?.type === "json_schema",
    tools: (body.tools ?? []).map((t) => ({
      name: t.function.name,
      description: t.function.description ?? "",
      parametersJson: t.function.parameters === undefined ? "" : JSON.stringify(t.function.parameters),
    })),
  });
}

const usageOf = (r: CompleteResponse) => ({
  prompt_tokens: r.usage?.promptTokens ?? 0,
  completion_tokens: r.usage?.completionTokens ?? 0,
  total_tokens: r.usage?.totalTokens ?? 0,
});

const extension = (r: CompleteResponse) => ({
  requested_tier: r.routing?.requestedTier,
  served_tier: r.routing?.servedTier,
  reasons: r.routing?.reasons,
  rule_ids: r.routing?.ruleIds,
  continuations: r.routing?.continuations,
  usage_estimated: r.usage?.estimated,
  provider: r.provider,
  cost_usd: r.costUsd,
});

async function readBody(req: Req): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new EdgeError(413, `request body over ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function sendJson(res: Res, status: number, body: object): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

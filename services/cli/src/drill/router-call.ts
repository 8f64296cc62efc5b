import { END_STREAM_FLAG, EnvelopeReader, encodeEnvelope } from "./connect-envelope.js";
import type { Sample } from "./sample.js";

const PATH = "/tiermesh.router.v1.RouterService/CompleteStream";
/** Error code of a request the drill cut off when it was stopped (Ctrl-C): it has no outcome. */
export const CANCELLED = "cancelled";
/** Abort reason, and error code, for a request still unanswered when the drill stopped waiting, past its deadline. */
export const UNANSWERED = "unanswered";
/** Grace past the deadline sent to the router before the drill gives up on its own. */
const CLIENT_GRACE_MS = 2_000;

export interface CallerShape {
  urgency: string;
  tierHint: string;
  apiKey: string | undefined;
  timeoutMs: number;
}

/** The parts of `CompleteResponse` (Connect JSON) the drill reads. */
interface DoneJson {
  routing?: { requestedTier?: string; servedTier?: string; tierAttempts?: number; providerAttempts?: number };
  timings?: { ttftUs?: string };
}

interface StreamJson {
  delta?: string;
  done?: DoneJson;
}

interface EndStreamJson {
  error?: { code?: string; message?: string };
}

const utf8 = new TextEncoder();
const decoder = new TextDecoder();

function requestBody(seq: number, user: string, shape: CallerShape): Uint8Array {
  const input: Record<string, unknown> = {
    messages: [{ role: "user", content: `Drill request ${seq}: say hello in one short sentence.` }],
    maxTokens: 64,
  };
  if (shape.urgency) input["urgency"] = shape.urgency;
  if (shape.tierHint) input["tierHint"] = shape.tierHint;
  if (user) input["user"] = user;
  return encodeEnvelope(0, utf8.encode(JSON.stringify({ input })));
}

/**
 * One `RouterService/CompleteStream` call in Connect JSON over HTTP/1.1, as an operator's
 * client would make it. Measures when the first piece of the answer reached the caller and
 * when the call ended. Never throws: failures become failed samples with their code.
 */
export async function callRouter(
  routerUrl: string,
  scheduledAt: number,
  seq: number,
  user: string,
  shape: CallerShape,
  now: () => number,
  drillSignal: AbortSignal,
): Promise<Sample> {
  const sample: Sample = {
    seq,
    user,
    scheduledAt,
    sentAt: now(),
    firstTokenAt: undefined,
    endedAt: 0,
    ok: false,
    errorCode: "",
    errorMessage: "",
    requestedTier: "",
    servedTier: "",
    tierAttempts: 0,
    providerAttempts: 0,
    serverTtftMs: undefined,
  };
  const fail = (code: string, message: string): Sample => ({ ...sample, endedAt: now(), errorCode: code, errorMessage: message });
  const timeout = AbortSignal.timeout(shape.timeoutMs + CLIENT_GRACE_MS);
  const headers: Record<string, string> = {
    "content-type": "application/connect+json",
    "connect-protocol-version": "1",
    "connect-timeout-ms": String(shape.timeoutMs),
  };
  if (shape.apiKey) headers["authorization"] = `Bearer ${shape.apiKey}`;
  try {
    const res = await fetch(`${routerUrl}${PATH}`, {
      method: "POST",
      headers,
      body: requestBody(seq, user, shape),
      signal: AbortSignal.any([drillSignal, timeout]),
    });
    if (res.status !== 200 || !res.body) return fail(`http_${res.status}`, (await res.text()).slice(0, 200));
    const reader = new EnvelopeReader();
    let done: DoneJson | undefined;
    const body = res.body.getReader();
    for (;;) {
      const chunk = await body.read();
      if (chunk.done) break;
      for (const env of reader.push(chunk.value)) {
        if (env.flags & END_STREAM_FLAG) {
          const end = JSON.parse(decoder.decode(env.data) || "{}") as EndStreamJson;
          if (end.error) return fail(end.error.code ?? "unknown", end.error.message ?? "");
          if (!done) return fail("no_result", "stream ended without a result");
          const r = done.routing ?? {};
          return {
            ...sample,
            firstTokenAt: sample.firstTokenAt ?? now(),
            endedAt: now(),
            ok: true,
            requestedTier: r.requestedTier ?? "",
            servedTier: r.servedTier ?? "",
            tierAttempts: r.tierAttempts ?? 0,
            providerAttempts: r.providerAttempts ?? 0,
            serverTtftMs: done.timings?.ttftUs === undefined ? undefined : Number(done.timings.ttftUs) / 1_000,
          };
        }
        const msg = JSON.parse(decoder.decode(env.data)) as StreamJson;
        if (sample.firstTokenAt === undefined && ((msg.delta ?? "") !== "" || msg.done)) sample.firstTokenAt = now();
        if (msg.done) done = msg.done;
      }
    }
    return fail("truncated", `response ended without an end-of-stream message (${reader.pending} bytes pending)`);
  } catch (err) {
    if (drillSignal.aborted && drillSignal.reason === UNANSWERED) {
      return fail(UNANSWERED, `no answer ${Math.round(now() - sample.sentAt)} ms after sending, past the ${shape.timeoutMs} ms deadline`);
    }
    if (drillSignal.aborted) return fail(CANCELLED, "the drill stopped before the answer came");
    if (timeout.aborted) return fail("deadline_exceeded", `no answer within ${shape.timeoutMs + CLIENT_GRACE_MS} ms (client)`);
    const cause = (err as Error).cause as { code?: string; message?: string } | undefined;
    return fail("network", String(cause?.code ?? cause?.message ?? (err as Error).message));
  }
}

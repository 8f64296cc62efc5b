import { Code, ConnectError } from "@connectrpc/connect";
import { InterruptedAnswerSchema } from "@tiermesh/proto";
import { FALLBACK_CODES, type RouteRequest } from "./route-request.js";
import type { TierCalls, TierEvent } from "./tier-race.js";

/** An answer whose stream failed on `origin` after it produced `delivered`. */
export interface Interrupted {
  origin: string;
  /** The failure, already counted against the request's attempts. */
  error: ConnectError;
  delivered: string;
  /** Executor calls the request has made. */
  tierAttempts: number;
  /** When the first token reached the caller. */
  ttftUs: bigint;
}

/** The text an executor produced before it failed, when it was collecting (an InterruptedAnswer detail). */
export function deliveredBy(err: ConnectError): string {
  return err
    .findDetails(InterruptedAnswerSchema)
    .map((d) => d.delivered)
    .join("");
}

/**
 * Continues an interrupted answer on the tiers after its origin, in the request's order: each
 * gets the text delivered so far as an assistant prefix and sends only the continuation, so
 * the caller sees one answer with no gap or repeat (`collect`: the final `done` holds the whole
 * text). A tier that fails after adding text hands on a longer prefix.
 *
 * Guarantees: only while the origin and the target tier have continuation on, within the
 * request's attempt budget and deadline; the reasons say where the answer went on and why. When
 * no tier continues it, throws the ORIGINAL failure (a target's refusal of the prefix, or its
 * having no deployment that can continue, never reaches the caller).
 */
export async function* continueOnTiers(r: RouteRequest, calls: TierCalls, collect: boolean, i: Interrupted): AsyncGenerator<TierEvent> {
  const { origin, error } = i;
  // Only failures another tier could have served instead (not the caller's own, nor a cancellation).
  if (!calls.continues(origin) || !FALLBACK_CODES.has(error.code)) throw error;
  let delivered = i.delivered;
  let tierAttempts = i.tierAttempts;
  const start = r.tiers.indexOf(origin) + 1;
  for (const tier of r.tiers.slice(start)) {
    if (!r.mayContinue(origin, tier)) break;
    if (!calls.continues(tier)) {
      r.reasons.push(`${tier} does not continue answers (continuation off)`);
      continue;
    }
    const request = { ...r.executeRequest(tier, false), assistantPrefix: delivered };
    const events = calls.open(tier, request, r.callOptions(r.signal), !collect);
    tierAttempts++;
    let toolCalled = false;
    try {
      for await (const res of events) {
        const e = res.event;
        if (e.case === "delta") {
          delivered += e.value;
          yield { case: "delta", value: e.value };
        } else if (e.case === "toolCall") {
          toolCalled = true;
          yield { case: "toolCall", value: e.value };
        } else if (e.case === "done") {
          r.continued(origin, tier, error, i.delivered.length);
          r.succeeded(tier);
          const value = collect ? { ...e.value, content: delivered + e.value.content } : e.value;
          yield { case: "done", value, tierAttempts, ttftUs: i.ttftUs };
          return;
        }
      }
      throw new ConnectError(`tier ${tier}: stream ended without a result`, Code.Unavailable);
    } catch (cause) {
      const err = r.recordFailure(tier, cause);
      delivered += deliveredBy(err);
      r.reasons.push(`${tier} could not continue ${origin}'s answer (${Code[err.code]}: ${err.rawMessage})`);
      // A tool call that reached the caller cannot be continued.
      if (toolCalled) break;
    }
  }
  throw error;
}

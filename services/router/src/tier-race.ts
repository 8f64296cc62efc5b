import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError } from "@connectrpc/connect";
import type { ExecuteResponse, ExecuteStreamResponse, ExecuteRequestSchema, ToolCallDelta } from "@tiermesh/proto";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { CallAbortController } from "@tiermesh/runtime";
import { continueOnTiers, deliveredBy } from "./answer-continuation.js";
import { callerError, type ExecutorCallOptions, type RouteRequest } from "./route-request.js";

export type TierEvent =
  | { case: "delta"; value: string }
  | { case: "toolCall"; value: ToolCallDelta }
  | { case: "done"; value: ExecuteResponse; tierAttempts: number; ttftUs: bigint };

/** How the race reaches the executors and the cross-tier hedge budgets. */
export interface TierCalls {
  /**
   * Calls `tier`'s executor. `streamed` false: a unary call, seen as one `done` event;
   * true: ExecuteStream, which can carry hedge advice (and a first-token signal in collect mode).
   */
  open(
    tier: string,
    request: MessageInitShape<typeof ExecuteRequestSchema>,
    options: ExecutorCallOptions,
    streamed: boolean,
  ): AsyncIterable<ExecuteStreamResponse>;
  /** Whether `tier`'s executor hedges (and so may advise a hedge on another tier). */
  hedges(tier: string): boolean;
  /** Counts a request that could be hedged away from `tier`. */
  deposit(tier: string): void;
  /** Charges `tier`'s hedge budget for one cross-tier hedge; false when it is spent. */
  tryHedge(tier: string): boolean;
  /** Whether `tier` has continuation on: its interrupted answers go on elsewhere, and it continues others'. */
  continues(tier: string): boolean;
}

interface Racer {
  tier: string;
  controller: AbortController;
  events: AsyncIterator<ExecuteStreamResponse>;
  pending: Promise<Step> | undefined;
}

type Step = { racer: Racer; ok: true; result: IteratorResult<ExecuteStreamResponse> } | { racer: Racer; ok: false; error: unknown };

/**
 * Serves a routed request from its tiers in order. Before the first token, a failed tier
 * hands over to the next one (in-request fallback), and an executor that advises a hedge
 * (its own pool has nothing else to hedge on) gets the next tier raced beside it: whichever
 * produces the first token keeps the request, the other is cancelled. Once text reached the
 * caller, a tier that fails hands the answer on to be continued from that text (see
 * continueOnTiers), never restarted: a restart would splice two answers. A tool call piece is
 * a first token too; once one reached the caller the answer cannot be continued (a provider
 * continues text, not a call), so a failure after it fails the request.
 *
 * `collect`: the caller wants the whole answer at once (unary); executors then send only a
 * first-token signal and the text in `done`, and tiers that cannot hedge are called unary.
 */
export async function* raceTiers(r: RouteRequest, calls: TierCalls, collect: boolean): AsyncGenerator<TierEvent> {
  const running = new Set<Racer>();
  let next = 0;
  let started = 0;
  let hedged = false;
  let finished = false;

  const start = (reserve: number, index = next++) => {
    const tier = r.tiers[index]!;
    const hedgeable = calls.hedges(tier) && index + 1 < r.tiers.length;
    const streamed = !collect || hedgeable;
    // Aborted with the request, or alone when it loses a race. (Linked by a listener rather than
    // AbortSignal.any, which costs several times more per call; the request's signal lives only
    // as long as the request, so the listener needs no removal.)
    const controller = new CallAbortController();
    if (r.signal.aborted) controller.abort(r.signal.reason);
    else r.signal.addEventListener("abort", () => controller.abort(r.signal.reason), { once: true });
    const options = r.callOptions(controller.signal);
    const events = calls.open(tier, r.executeRequest(tier, collect && streamed, reserve), options, streamed)[Symbol.asyncIterator]();
    if (hedgeable && !hedged) calls.deposit(tier);
    running.add({ tier, controller, events, pending: undefined });
    started++;
  };
  const stepOf = (racer: Racer) =>
    (racer.pending ??= racer.events.next().then(
      (result): Step => ({ racer, ok: true, result }),
      (error: unknown): Step => ({ racer, ok: false, error }),
    ));

  start(0);
  try {
    for (;;) {
      const step = await Promise.race([...running].map(stepOf));
      const { racer } = step;
      racer.pending = undefined;
      let error: unknown;
      /** Text of this racer that reached the caller, and when its first token did. */
      let text = "";
      let ttftUs: bigint | undefined;
      /** A tool call piece of this racer reached the caller. */
      let toolCalled = false;
      if (!step.ok) {
        error = step.error;
      } else if (step.result.done) {
        error = new ConnectError(`tier ${racer.tier}: stream ended without a result`, Code.Unavailable);
      } else {
        const event = step.result.value.event;
        if (event.case === "hedgeAdvice") {
          const target = r.tiers[next];
          if (!hedged && target !== undefined && r.mayHedge() && calls.tryHedge(racer.tier)) {
            hedged = true;
            r.reasons.push(
              `${racer.tier} had no first token after ${event.value.waitedMs} ms (${event.value.reason}); hedged on ${target}`,
            );
            start(1);
          }
          continue;
        }
        if (event.case === undefined) continue;
        // The first token (or a whole answer): this tier keeps the request.
        for (const other of running) {
          if (other === racer) continue;
          other.controller.abort(new ConnectError(`${racer.tier} answered first`, Code.Canceled));
          running.delete(other);
          r.recordCancelled();
          r.reasons.push(`${racer.tier} answered first; cancelled ${other.tier}`);
        }
        try {
          for (let e: ExecuteStreamResponse["event"] = event; ; ) {
            if (e.case === "delta") {
              ttftUs ??= r.sinceStartUs();
              text += e.value;
              yield { case: "delta", value: e.value };
            } else if (e.case === "toolCall") {
              ttftUs ??= r.sinceStartUs();
              toolCalled = true;
              yield { case: "toolCall", value: e.value };
            } else if (e.case === "started") {
              ttftUs ??= r.sinceStartUs();
            } else if (e.case === "done") {
              finished = true;
              // Read the call to its end rather than cancel it: a finished call needs no RST_STREAM.
              running.delete(racer);
              racer.events.next().catch(() => undefined);
              r.succeeded(racer.tier);
              yield { case: "done", value: e.value, tierAttempts: started, ttftUs: ttftUs ?? r.sinceStartUs() };
              return;
            }
            const more = await racer.events.next();
            if (more.done) throw new ConnectError(`tier ${racer.tier}: stream ended without a result`, Code.Unavailable);
            e = more.value.event;
          }
        } catch (cause) {
          error = cause;
        }
      }
      running.delete(racer);
      const err = r.recordFailure(racer.tier, error);
      if (toolCalled) {
        r.reasons.push(`${racer.tier}'s stream failed after a tool call reached the caller; a tool call cannot be continued elsewhere`);
        throw err;
      }
      // Part of the answer exists (sent to the caller, or collected by the executor): continue it.
      const delivered = text + deliveredBy(err);
      if (delivered !== "" && running.size === 0) {
        const interrupted = { origin: racer.tier, error: err, delivered, tierAttempts: started, ttftUs: ttftUs ?? r.sinceStartUs() };
        // Text that reached the caller can only be continued; text an executor collected for a
        // unary caller, who has seen nothing, may also be restarted on the next tier from scratch.
        const restartable = collect && text === "";
        try {
          for await (const e of continueOnTiers(r, calls, collect, interrupted)) {
            if (e.case === "done") finished = true;
            yield e;
          }
          return;
        } catch (notContinued) {
          if (!restartable) throw notContinued;
          r.reasons.push(`${racer.tier}'s interrupted answer could not be continued; the caller had seen none of it, so it restarts`);
          ttftUs = undefined;
        }
      }
      if (running.size > 0) {
        r.reasons.push(
          `${racer.tier} failed in-request (${Code[err.code]}: ${err.rawMessage}) while ${[...running].map((o) => o.tier).join(", ")} still ran`,
        );
        continue;
      }
      if (r.mayFallBack(racer.tier, err, r.tiers[next])) {
        start(0);
        continue;
      }
      // The last tier the request may use is rate limited by its provider: wait as it asked, then try it again.
      const waitMs = r.rateLimitWait(racer.tier, err, r.tiers[next]);
      if (waitMs === undefined) throw err;
      await sleep(waitMs, undefined, { signal: r.signal }).catch(() => undefined);
      if (r.signal.aborted) throw err;
      start(0, r.tiers.indexOf(racer.tier));
    }
  } catch (cause) {
    const err = ConnectError.from(cause);
    if (!finished) r.failedFinally(err);
    throw callerError(err);
  } finally {
    for (const racer of running) racer.controller.abort(new ConnectError("request over", Code.Canceled));
  }
}

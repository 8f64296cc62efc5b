import { randomUUID } from "node:crypto";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import type { Classification } from "@tiermesh/policy";
import {
  ATTEMPTS_HEADER,
  ERROR_REASON_HEADER,
  PROVIDER_RATE_LIMITED,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
  retryAfterMsOf,
  CompleteResponseSchema,
  type CompleteResponse,
  type CompletionInput,
  type ExecuteRequestSchema,
  type ExecuteResponse,
} from "@tiermesh/proto";
import { afterReply } from "@tiermesh/runtime";
import { isContextMiss, type ContextDemandInput, type ContextFit, type ContextRange } from "./context-fit.js";
import type { PassiveTierBreaker } from "./passive-tier-breaker.js";
import type { RouteTrace } from "./route-trace.js";
import type { RoutePlan } from "./routing-policy.js";
import { answeredRecord, failedRecord, type UsageHeader } from "./usage-record.js";
import type { UsageRecord } from "@tiermesh/proto";

/** Headers of an executor's error that mean something to the router's caller. */
const CALLER_HEADERS = [RETRY_AFTER_HEADER, RETRY_AFTER_MS_HEADER, ERROR_REASON_HEADER];

/**
 * The error the caller gets for a failed executor call: its code and message, and of its
 * metadata only what is meant for callers (transport headers such as content-length must
 * not leak into the router's own response).
 */
export function callerError(err: ConnectError): ConnectError {
  const metadata = new Headers();
  for (const name of CALLER_HEADERS) {
    const value = err.metadata.get(name);
    if (value !== null) metadata.set(name, value);
  }
  return new ConnectError(err.rawMessage, err.code, metadata, undefined, err.cause ?? err);
}

/** How an executor is called for a request. */
export interface ExecutorCallOptions {
  signal: AbortSignal;
  timeoutMs: number;
  contextValues?: ContextValues;
}

/** Errors after which another tier may still serve the request. */
export const FALLBACK_CODES = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Internal, Code.Unknown]);
/** Share of a provider's Retry-After added at random, so waiting requests do not return at once. */
const RATE_LIMIT_JITTER = 0.25;
/** A rate-limited request waits only when at least this much time is left after the wait. */
const MIN_ANSWER_AFTER_WAIT_MS = 1_000;
/** Below this much time left, no further tier is tried. */
const MIN_FALLBACK_MS = 20;

export interface RouteRequestDeps {
  /** Receives the usage record of every finished request (the ledger, budgets). */
  usage?: ((record: UsageRecord) => void) | undefined;
  /** Called when a request ends without a usage record (its budget estimate is released). */
  unrecorded?: ((id: string, tenant: string) => void) | undefined;
  passive: PassiveTierBreaker;
  /** Provider attempts one request may make in all, across tiers. */
  maxAttempts: number;
  onFinished?: ((requested: string, served: string, code: string, seconds: number) => void) | undefined;
  /** Receives every answer as the caller gets it. */
  onAnswered?: ((response: CompleteResponse) => void) | undefined;
}

export interface RouteRequestInit {
  /** The request id (a fresh one when absent). */
  id?: string | undefined;
  /** Plan, user and entitled tier, for the usage record; absent in tests that do not look. */
  usage?: Omit<UsageHeader, "requestId"> | undefined;
  tenant: string;
  input: CompletionInput;
  classification: Classification;
  plan: RoutePlan;
  /** Absolute deadline, epoch ms. */
  deadline: number;
  signal: AbortSignal;
  started: number;
  /** Called once when the request is over. */
  release?: () => void;
  /** How the request fits the tiers' context windows, for when a tier refuses it for length. */
  context?: { fit: ContextFit; range: ContextRange; demand: ContextDemandInput } | undefined;
  /** The request's span, when traced. */
  trace?: RouteTrace | undefined;
}

/**
 * One routed request after classification: the tiers it may use in order, the reasons
 * its response will give, and one attempt budget shared by every tier it touches, so
 * executor retries, hedges and tier fallbacks never multiply.
 */
export class RouteRequest {
  readonly id: string;
  readonly reasons: string[];
  private attemptsLeft: number;
  /** The tiers in order; the ones not begun yet may change after a refusal for length. */
  private readonly order: string[];
  /** How many of `order` have been called (always its first ones). */
  private begun = 0;
  /** Times the router continued the answer on another tier. */
  private continuations = 0;

  constructor(
    private readonly deps: RouteRequestDeps,
    private readonly init: RouteRequestInit,
  ) {
    this.id = init.id ?? randomUUID();
    this.reasons = [...init.classification.reasons, ...init.plan.reasons];
    this.attemptsLeft = deps.maxAttempts;
    this.order = [...init.plan.tiers];
  }

  /** Tiers to try in order: the first serves, the rest are in-request fallbacks or hedges. */
  get tiers(): readonly string[] {
    return this.order;
  }

  get signal(): AbortSignal {
    return this.init.signal;
  }

  remainingMs(): number {
    return this.init.deadline - Date.now();
  }

  sinceStartUs(): bigint {
    return BigInt(Math.round((performance.now() - this.init.started) * 1_000));
  }

  /** What an executor of `tier` is asked to do; `reserve` keeps attempts for calls still running. */
  executeRequest(tier: string, collect: boolean, reserve = 0): MessageInitShape<typeof ExecuteRequestSchema> {
    const { tenant, input, context, classification } = this.init;
    this.begun = Math.max(this.begun, this.order.indexOf(tier) + 1);
    const maxAttempts = Math.max(1, this.attemptsLeft - reserve);
    const promptTokens = context ? context.fit.tokensFor(tier, context.demand) : 0;
    return { tier, requestId: this.id, tenant, input, maxAttempts, collect, promptTokens, requestedTier: classification.tier };
  }

  /** Call options for an executor call: the request's deadline, the given signal, and (traced) the request's span as parent. */
  callOptions(signal: AbortSignal): ExecutorCallOptions {
    const options = { signal, timeoutMs: Math.max(1, this.remainingMs()) };
    return this.init.trace ? { ...options, contextValues: this.init.trace.contextValues() } : options;
  }

  /**
   * Counts a failed tier call against the attempt budget and the router's passive breaker. A
   * refusal for length is a routing miss, not the tier's failure: the tiers not begun yet become
   * those with larger context windows; with none left, the error names the miss for the caller.
   */
  recordFailure(tier: string, cause: unknown): ConnectError {
    const err = ConnectError.from(cause);
    if (FALLBACK_CODES.has(err.code)) this.deps.passive.record(tier, false);
    this.attemptsLeft -= Number(err.metadata.get(ATTEMPTS_HEADER) ?? 1);
    const context = this.init.context;
    if (!isContextMiss(err) || !context) return err;
    const begun = this.order.slice(0, this.begun);
    const next = context.fit.afterMiss(begun, this.order.slice(this.begun), tier, context.range, context.demand);
    this.order.splice(this.begun, Infinity, ...next);
    return next.length > 0 ? err : context.fit.refusedEverywhere(tier, err, context.demand);
  }

  /** A call that lost a hedge race: it made at least one attempt. */
  recordCancelled(): void {
    this.attemptsLeft -= 1;
  }

  /** Whether `next` should be tried after `tier` failed with `err`; says why in the reasons. */
  mayFallBack(tier: string, err: ConnectError, next: string | undefined): boolean {
    const miss = isContextMiss(err);
    if (next === undefined || this.init.signal.aborted || !(miss || FALLBACK_CODES.has(err.code)) || this.remainingMs() < MIN_FALLBACK_MS)
      return false;
    if (this.attemptsLeft <= 0) {
      this.reasons.push(`${tier} failed in-request (${Code[err.code]}); no attempts left for ${next}`);
      return false;
    }
    if (miss) {
      this.reasons.push(`${tier} refused the prompt's length (${err.rawMessage}); tried ${next}, which has a larger context window`);
      return true;
    }
    this.reasons.push(`${tier} failed in-request (${Code[err.code]}: ${err.rawMessage}); fell back to ${next}`);
    return true;
  }

  /** Whether an answer interrupted on `origin` may be continued on `tier` now (time and attempts left); says why not. */
  mayContinue(origin: string, tier: string): boolean {
    if (this.init.signal.aborted || this.remainingMs() < MIN_FALLBACK_MS) return false;
    if (this.attemptsLeft <= 0) {
      this.reasons.push(`${origin}'s answer was interrupted; no attempts left to continue it on ${tier}`);
      return false;
    }
    return true;
  }

  /** The answer interrupted on `origin` (after `chars` characters) was continued to its end on `tier`. */
  continued(origin: string, tier: string, err: ConnectError, chars: number): void {
    this.continuations++;
    this.reasons.push(
      `${origin}'s stream failed after ${chars} characters reached the caller (${Code[err.code]}: ${err.rawMessage}); continued on ${tier} from that text as an assistant prefix`,
    );
  }

  /**
   * How long to wait before trying `tier` again, when it failed because its provider rate
   * limits it (429, Retry-After) and no other tier is left to try: waiting as asked serves the
   * request at its own tier, where failing at once would lose it. Undefined when the request
   * may not wait: another tier remains, the failure is not a provider's rate limit (a full
   * bulkhead sheds load and is refused at once), no attempts are left, or the wait would not
   * leave time for the answer. A little jitter keeps waiters from coming back all at once.
   */
  rateLimitWait(tier: string, err: ConnectError, next: string | undefined): number | undefined {
    if (next !== undefined || this.init.signal.aborted || err.metadata.get(ERROR_REASON_HEADER) !== PROVIDER_RATE_LIMITED) return undefined;
    const ms = retryAfterMsOf(err.metadata);
    if (ms === undefined || this.attemptsLeft <= 0) return undefined;
    const wait = ms * (1 + Math.random() * RATE_LIMIT_JITTER);
    if (this.remainingMs() < wait + MIN_ANSWER_AFTER_WAIT_MS) return undefined;
    this.reasons.push(
      `${tier} is rate limited by its provider (${err.rawMessage}); waited ${Math.round(wait)} ms as asked, then tried it again`,
    );
    return wait;
  }

  /** Whether a hedge on another tier may start now (time and attempts left). */
  mayHedge(): boolean {
    return !this.init.signal.aborted && this.attemptsLeft >= 2 && this.remainingMs() >= MIN_FALLBACK_MS;
  }

  succeeded(tier: string): void {
    this.deps.passive.record(tier, true);
    this.finished(tier, "ok");
  }

  failedFinally(err: ConnectError): void {
    this.finished("", Code[err.code]);
    this.init.trace?.end(this.reasons, err, Code[err.code]);
    const ms = performance.now() - this.init.started;
    this.record((h) => failedRecord(h, err, this.reasons, ms));
  }

  respond(r: ExecuteResponse, tierAttempts: number, content: string, ttftUs: bigint): CompleteResponse {
    const { classification: c } = this.init;
    if (r.continuations > 0) {
      this.reasons.push(
        `${r.tier} continued the answer on another of its deployments ${r.continuations} time(s) after a stream failed mid-way`,
      );
    }
    const response = create(CompleteResponseSchema, {
      id: this.id,
      content,
      toolCalls: r.toolCalls,
      finishReason: r.finishReason,
      routing: {
        requestedTier: c.tier,
        servedTier: r.tier,
        reasons: this.reasons,
        ruleIds: c.ruleIds,
        tierAttempts,
        providerAttempts: this.deps.maxAttempts - this.attemptsLeft + r.attempts,
        cached: r.cached,
        continuations: this.continuations + r.continuations,
      },
      model: r.model,
      provider: r.provider,
      usage: r.usage,
      costUsd: r.costUsd,
      timings: { ttftUs, totalUs: this.sinceStartUs(), providerUs: r.timings?.providerUs ?? 0n },
    });
    this.init.trace?.served(response);
    const answered = this.deps.onAnswered;
    if (answered) afterReply(() => answered(response));
    this.record((h) => answeredRecord(h, response));
    return response;
  }

  private recorded = false;

  /** The request's usage record, built and handed to the ledger after the reply. */
  private record(build: (header: UsageHeader) => UsageRecord): void {
    const u = this.init.usage;
    if (this.recorded || !u) return;
    this.recorded = true;
    const sink = this.deps.usage;
    if (!sink) return;
    const header = { ...u, requestId: this.id };
    afterReply(() => sink(build(header)));
  }

  /** Releases what the routing plan held (promotion capacity); ends the request's span if a failure has not. */
  done(): void {
    if (!this.recorded) this.deps.unrecorded?.(this.id, this.init.tenant);
    this.recorded = true;
    this.init.plan.done();
    this.init.release?.();
    this.init.trace?.end(this.reasons);
  }

  private finished(served: string, code: string): void {
    const sink = this.deps.onFinished;
    if (!sink) return;
    const requested = this.init.classification.tier;
    const seconds = (performance.now() - this.init.started) / 1_000;
    afterReply(() => sink(requested, served, code, seconds));
  }
}

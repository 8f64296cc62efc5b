import { randomUUID } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  ATTEMPTS_HEADER,
  CompleteResponseSchema,
  type ClassifierService,
  type CompleteResponse,
  type CompletionInput,
  type ExecuteResponse,
  type TierExecutorService,
} from "@tiermesh/proto";
import { deadlineFrom } from "@tiermesh/runtime";
import type { ApiKeyAuth } from "./api-key-auth.js";
import type { PassiveTierBreaker } from "./passive-tier-breaker.js";
import type { RoutingPolicy } from "./routing-policy.js";
import type { SpendLedger } from "./spend-ledger.js";

export interface RouterCoreDeps {
  /** Current authenticator; swapped on config reload. */
  auth: () => ApiKeyAuth;
  classifier: Client<typeof ClassifierService>;
  executors: ReadonlyMap<string, Client<typeof TierExecutorService>>;
  policy: RoutingPolicy;
  /** Month-to-date spend, so tenants over budget are not promoted. */
  spend: SpendLedger;
  /** Learns from every executor call, for when tier status is stale. */
  passive: PassiveTierBreaker;
  defaultTimeoutMs: number;
  /** Receives every finished request (requested tier, served tier, code, seconds). */
  onFinished?: (requested: string, served: string, code: string, seconds: number) => void;
  /** Provider attempts one request may make in all, across tiers. */
  maxAttempts: number;
}

/** One call as the edges (RPC, HTTP) hand it over. */
export interface RouteCall {
  input: CompletionInput | undefined;
  authorization: string | null;
  /** The caller's timeout, if any. */
  timeoutMs: number | undefined;
  signal: AbortSignal;
}

export type StreamEvent = { case: "delta"; value: string } | { case: "done"; value: CompleteResponse };

/** Errors after which another tier may still serve the request. */
const FALLBACK_CODES = new Set([Code.Unavailable, Code.DeadlineExceeded, Code.ResourceExhausted, Code.Internal, Code.Unknown]);
/** Below this much time left, no further tier is tried. */
const MIN_FALLBACK_MS = 20;

/**
 * The routing of one request, shared by every edge: authenticate, classify, order the
 * tiers, call the first executor and fall back in-request while no text reached the caller.
 */
export class RouterCore {
  constructor(private readonly deps: RouterCoreDeps) {}

  async complete(call: RouteCall): Promise<CompleteResponse> {
    const r = await this.prepare(call);
    try {
      for (let i = 0; ; i++) {
        const tier = r.tiers[i]!;
        try {
          const res = await this.executor(tier).execute(r.request(tier), r.options());
          this.deps.passive.record(tier, true);
          r.finished(tier, "ok");
          return r.respond(res, i + 1, res.content, r.sinceStartUs());
        } catch (cause) {
          if (!r.failed(tier, cause, i)) {
            const err = ConnectError.from(cause);
            r.finished("", Code[err.code]);
            throw err;
          }
        }
      }
    } finally {
      r.done();
    }
  }

  async *completeStream(call: RouteCall): AsyncGenerator<StreamEvent> {
    const r = await this.prepare(call);
    try {
      yield* this.stream(r);
    } finally {
      r.done();
    }
  }

  private async *stream(r: Awaited<ReturnType<RouterCore["prepare"]>>): AsyncGenerator<StreamEvent> {
    for (let i = 0; ; i++) {
      const tier = r.tiers[i]!;
      let ttftUs: bigint | undefined;
      try {
        for await (const msg of this.executor(tier).executeStream(r.request(tier), r.options())) {
          if (msg.event.case === "delta") {
            ttftUs ??= r.sinceStartUs();
            yield { case: "delta", value: msg.event.value };
          } else if (msg.event.case === "done") {
            this.deps.passive.record(tier, true);
            r.finished(tier, "ok");
            yield { case: "done", value: r.respond(msg.event.value, i + 1, "", ttftUs ?? r.sinceStartUs()) };
            return;
          }
        }
        throw new ConnectError(`tier ${tier}: stream ended without a result`, Code.Unavailable);
      } catch (cause) {
        // Once text reached the caller, switching tiers would splice two answers: fail instead.
        if (ttftUs !== undefined || !r.failed(tier, cause, i)) {
          const err = ConnectError.from(cause);
          r.finished("", Code[err.code]);
          throw err;
        }
      }
    }
  }

  private executor(tier: string) {
    const client = this.deps.executors.get(tier);
    if (!client) throw new ConnectError(`no executor configured for tier "${tier}"`, Code.Internal);
    return client;
  }

  private async prepare(call: RouteCall) {
    const { deps } = this;
    const started = performance.now();
    const deadline = deadlineFrom(call.timeoutMs, deps.defaultTimeoutMs);
    const tenant = deps.auth().tenantOf(call.authorization);
    const input = call.input;
    if (!input) throw new ConnectError("input: required", Code.InvalidArgument);
    const options = () => ({ signal: call.signal, timeoutMs: Math.max(1, deadline - Date.now()) });
    const c = await deps.classifier.classify({ tenant, input, deadlineMs: Math.max(0, deadline - Date.now()) }, options());
    const plan = deps.policy.plan({
      tier: c.tier,
      minTier: c.minTier,
      maxTier: c.maxTier,
      userKey: `${tenant}:${input.user}`,
      overBudget: deps.spend.overBudget(tenant),
    });
    const id = randomUUID();
    const reasons = [...c.reasons, ...plan.reasons];
    // One attempt budget for the whole request, so executor retries and tier fallbacks never multiply.
    let attemptsLeft = deps.maxAttempts;
    const sinceStartUs = () => BigInt(Math.round((performance.now() - started) * 1_000));
    return {
      tiers: plan.tiers,
      done: plan.done,
      finished: (served: string, code: string) => deps.onFinished?.(c.tier, served, code, (performance.now() - started) / 1_000),
      options,
      sinceStartUs,
      request: (tier: string) => ({ tier, requestId: id, tenant, input, maxAttempts: attemptsLeft }),
      /** Records a failed tier; returns true when the next tier should be tried. */
      failed(tier: string, cause: unknown, index: number): boolean {
        const err = ConnectError.from(cause);
        if (FALLBACK_CODES.has(err.code)) deps.passive.record(tier, false);
        attemptsLeft -= Number(err.metadata.get(ATTEMPTS_HEADER) ?? 1);
        const next = plan.tiers[index + 1];
        if (next === undefined || call.signal.aborted || !FALLBACK_CODES.has(err.code) || deadline - Date.now() < MIN_FALLBACK_MS) return false;
        if (attemptsLeft <= 0) {
          reasons.push(`${tier} failed in-request (${Code[err.code]}); no attempts left for ${next}`);
          return false;
        }
        reasons.push(`${tier} failed in-request (${Code[err.code]}: ${err.rawMessage}); fell back to ${next}`);
        return true;
      },
      respond: (r: ExecuteResponse, attempts: number, content: string, ttftUs: bigint): CompleteResponse => {
        deps.spend.add(tenant, r.costUsd);
        return create(CompleteResponseSchema, {
          id,
          content,
          finishReason: r.finishReason,
          routing: {
            requestedTier: c.tier,
            servedTier: r.tier,
            reasons,
            ruleIds: c.ruleIds,
            tierAttempts: attempts,
            providerAttempts: deps.maxAttempts - attemptsLeft + r.attempts,
            cached: r.cached,
          },
          model: r.model,
          provider: r.provider,
          usage: r.usage,
          costUsd: r.costUsd,
          timings: { ttftUs, totalUs: sinceStartUs(), providerUs: r.timings?.providerUs ?? 0n },
        });
      },
    };
  }
}

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport, type ServiceImpl } from "@connectrpc/connect";
import { parseConfig, TierLadder } from "@tiermesh/config";
import { compileTierPolicy, policyDocument, type CompiledPolicy } from "@tiermesh/policy";
import {
  ERROR_REASON_HEADER,
  CompletionInputSchema,
  ExecuteResponseSchema,
  InterruptedAnswerSchema,
  PROVIDER_RATE_LIMITED,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
  RouterService,
  TierExecutorService,
  TierState,
} from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { ApiKeyAuth } from "./api-key-auth.js";
import { ContextFit } from "./context-fit.js";
import { PassiveTierBreaker } from "./passive-tier-breaker.js";
import { callerError } from "./route-request.js";
import { RouterCore } from "./router-core.js";
import { createRouterService } from "./router-service.js";
import { RoutingPolicy } from "./routing-policy.js";
import type { TierView } from "./tier-view.js";

const config = parseConfig(
  `
router: { listen: "127.0.0.1:7400", anonymous_tenant: acme, max_attempts: 4 }
classifier: { listen: "127.0.0.1:7401", rules: [{ id: batch, when: { urgencies: [batch] }, tier: bronze }] }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 3, fallback: silver, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 3, output_per_mtok: 3 } }] }
  silver: { rank: 2, fallback: bronze, executor: { listen: "127.0.0.1:7411" }, models: [{ provider: sim, model: s, price: { input_per_mtok: 2, output_per_mtok: 2 } }] }
  bronze: { rank: 1, executor: { listen: "127.0.0.1:7412" }, models: [{ provider: sim, model: b, price: { input_per_mtok: 1, output_per_mtok: 1 } }] }
plans: { enterprise: { default_tier: gold, max_tier: gold } }
tenants: { acme: { plan: enterprise } }
`,
  "t.yaml",
  {},
);

type Executor = ServiceImpl<typeof TierExecutorService>;
const answer = (tier: string, content: string) =>
  create(ExecuteResponseSchema, {
    tier,
    model: tier[0],
    content,
    finishReason: "stop",
    costUsd: 0.001,
    attempts: 1,
    usage: { promptTokens: 3, completionTokens: 2, totalTokens: 5 },
  });

/**
 * An executor that answers `text` in pieces, or fails as told. Asked to continue an answer
 * (an assistant prefix), it records the prefix and answers only `tier`, or refuses as an
 * executor with no deployment able to continue does.
 */
function executor(
  tier: string,
  behaviour: {
    fail?: ConnectError;
    failAfter?: number;
    text?: string[];
    prefixes?: string[];
    cannotContinue?: boolean;
    requested?: string[];
  } = {},
): Executor {
  const whole = behaviour.text ?? ["hello ", "from ", tier];
  return {
    async execute(req) {
      behaviour.requested?.push(req.requestedTier);
      if (req.assistantPrefix) return answer(tier, continuation(req.assistantPrefix).join(""));
      if (behaviour.fail && behaviour.failAfter === undefined) throw behaviour.fail;
      return answer(tier, whole.join(""));
    },
    async *executeStream(req) {
      const pieces = req.assistantPrefix ? continuation(req.assistantPrefix) : whole;
      if (behaviour.fail && behaviour.failAfter === undefined) throw behaviour.fail;
      if (req.collect) {
        yield { event: { case: "started", value: { ttftUs: 1n } } };
        yield { event: { case: "done", value: answer(tier, pieces.join("")) } };
        return;
      }
      for (const [i, p] of pieces.entries()) {
        if (behaviour.failAfter === i) throw behaviour.fail;
        yield { event: { case: "delta", value: p } };
      }
      yield { event: { case: "done", value: answer(tier, "") } };
    },
  };

  function continuation(prefix: string): string[] {
    behaviour.prefixes?.push(prefix);
    if (behaviour.cannotContinue) throw new ConnectError(`tier ${tier}: no deployment can continue an answer`, Code.FailedPrecondition);
    return [tier];
  }
}

function routerWith(
  executors: Record<string, Executor>,
  options: { classify?: CompiledPolicy | undefined; states?: Record<string, TierState> } = {},
) {
  const ladder = new TierLadder(config.tiers);
  const view = (tier: string): TierView => ({ state: options.states?.[tier] ?? TierState.HEALTHY, reason: "test", source: "status" });
  const calls: string[] = [];
  const clients = new Map(
    Object.entries(executors).map(([tier, impl]) => [
      tier,
      createClient(
        TierExecutorService,
        createRouterTransport(({ service }) =>
          service(TierExecutorService, {
            execute: (req, ctx) => (calls.push(`${tier}:unary`), impl.execute(req, ctx)),
            executeStream: (req, ctx) => (calls.push(`${tier}:stream`), impl.executeStream(req, ctx)),
          }),
        ),
      ),
    ]),
  );
  const classify = "classify" in options ? options.classify : compileTierPolicy(policyDocument(config));
  const core = new RouterCore({
    auth: () => new ApiKeyAuth(config),
    classify: () => classify,
    executors: clients,
    tiers: config.tiers,
    policy: new RoutingPolicy(config, ladder, view),
    context: new ContextFit(config.tiers, ladder, (tier) => view(tier).state),
    passive: new PassiveTierBreaker(),
    defaultTimeoutMs: 5_000,
    maxAttempts: config.router.max_attempts,
  });
  const client = createClient(
    RouterService,
    createRouterTransport(({ service }) => service(RouterService, createRouterService(core))),
  );
  return { client, calls, core };
}

const input = (extra: Record<string, unknown> = {}) => ({ input: { messages: [{ role: "user", content: "hi" }], ...extra } });

describe("RouterCore through the Router RPC, in memory", () => {
  it("serves a request from its classified tier and says so", async () => {
    const { client, calls } = routerWith({ gold: executor("gold"), silver: executor("silver"), bronze: executor("bronze") });
    const res = await client.complete(input());
    expect(res.content).toBe("hello from gold");
    expect(res.routing).toMatchObject({ requestedTier: "gold", servedTier: "gold", tierAttempts: 1 });
    expect(res.routing!.reasons).toContain("plan enterprise default tier gold");
    const batch = await client.complete(input({ urgency: "batch" }));
    expect(batch.routing).toMatchObject({ requestedTier: "bronze", servedTier: "bronze" });
    expect(calls).toEqual(["gold:unary", "bronze:unary"]);
  });

  it("falls back within the request when a tier fails before any text, and names the failure", async () => {
    const { client, calls } = routerWith({
      gold: executor("gold", { fail: new ConnectError("provider down", Code.Unavailable) }),
      silver: executor("silver"),
      bronze: executor("bronze"),
    });
    const res = await client.complete(input());
    expect(res.routing).toMatchObject({ requestedTier: "gold", servedTier: "silver", tierAttempts: 2 });
    expect(res.routing!.reasons.join("\n")).toMatch(/gold failed in-request \(Unavailable: provider down\); fell back to silver/);
    expect(calls).toEqual(["gold:unary", "silver:unary"]);
  });

  it("tells every tier it calls the tier the request was classified into (for the outcomes it reports)", async () => {
    const requested: string[] = [];
    const { client } = routerWith({
      gold: executor("gold", { fail: new ConnectError("provider down", Code.Unavailable), requested }),
      silver: executor("silver", { requested }),
      bronze: executor("bronze", { requested }),
    });
    await client.complete(input());
    await client.complete(input({ urgency: "batch" }));
    expect(requested).toEqual(["gold", "gold", "bronze"]);
  });

  it("streams text as it comes, and continues an answer cut mid-stream on the next tier from its text", async () => {
    const prefixes: string[] = [];
    const { client } = routerWith({
      gold: executor("gold", { fail: new ConnectError("stream cut", Code.Unavailable), failAfter: 2 }),
      silver: executor("silver", { prefixes }),
      bronze: executor("bronze"),
    });
    const deltas: string[] = [];
    let routing;
    for await (const ev of client.completeStream(input())) {
      if (ev.event.case === "delta") deltas.push(ev.event.value);
      else if (ev.event.case === "done") routing = ev.event.value.routing;
    }
    expect(deltas).toEqual(["hello ", "from ", "silver"]);
    expect(prefixes).toEqual(["hello from "]);
    expect(routing).toMatchObject({ servedTier: "silver", continuations: 1, tierAttempts: 2 });
  });

  it("never splices tiers: when no tier can continue, the caller gets the original error", async () => {
    const { client } = routerWith({
      gold: executor("gold", { fail: new ConnectError("stream cut", Code.Unavailable), failAfter: 2 }),
      silver: executor("silver", { cannotContinue: true }),
      bronze: executor("bronze", { cannotContinue: true }),
    });
    const deltas: string[] = [];
    const error = await (async () => {
      for await (const ev of client.completeStream(input())) if (ev.event.case === "delta") deltas.push(ev.event.value);
    })().catch((e: unknown) => ConnectError.from(e));
    expect(deltas).toEqual(["hello ", "from "]);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).rawMessage).toBe("stream cut");
    expect((error as ConnectError).code).toBe(Code.Unavailable);
  });

  it("routes around a tier the monitor reports down, without calling it", async () => {
    const { client, calls } = routerWith(
      { gold: executor("gold"), silver: executor("silver"), bronze: executor("bronze") },
      { states: { gold: TierState.DOWN } },
    );
    const res = await client.complete(input({ user: "u1" }));
    expect(res.routing).toMatchObject({ requestedTier: "gold", servedTier: "silver" });
    expect(calls).toEqual(["silver:unary"]);
  });

  it("passes a full tier's RESOURCE_EXHAUSTED on with its retry-after, and nothing of the transport", async () => {
    const full = new ConnectError("bulkhead full", Code.ResourceExhausted, { [RETRY_AFTER_HEADER]: "2" });
    const { client } = routerWith({
      gold: executor("gold", { fail: full }),
      silver: executor("silver", { fail: full }),
      bronze: executor("bronze", { fail: full }),
    });
    const err = await client.complete(input()).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.ResourceExhausted);
    expect((err as ConnectError).metadata.get(RETRY_AFTER_HEADER)).toBe("2");
  });

  it("keeps of an executor's error metadata only what callers may see", () => {
    const upstream = new ConnectError("full", Code.ResourceExhausted, {
      "content-length": "46",
      "content-type": "application/json",
      [RETRY_AFTER_HEADER]: "1",
      "x-tiermesh-attempts": "2",
    });
    const err = callerError(upstream);
    expect([...err.metadata.entries()]).toEqual([[RETRY_AFTER_HEADER, "1"]]);
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(err.rawMessage).toBe("full");
  });

  it("classifies a stored batch's lines for the tenant its record names as for that tenant's key, and refuses a tenant without a plan", () => {
    const { core } = routerWith({});
    const batchInput = create(CompletionInputSchema, { messages: [{ role: "user", content: "hi" }], urgency: "batch" });
    // No key: the anonymous tenant is acme, so place(null) is acme's request.
    expect(core.placeFor("acme", batchInput)).toEqual(core.place(null, batchInput));
    expect(core.placeFor("acme", batchInput)).toMatchObject({ tenant: "acme", tier: "bronze" });
    expect(core.placeFor("acme", create(CompletionInputSchema, { messages: [{ role: "user", content: "hi" }] })).tier).toBe("gold");
    let refused: unknown;
    try {
      core.placeFor("mallory", batchInput);
    } catch (err) {
      refused = err;
    }
    expect(ConnectError.from(refused).code).toBe(Code.Unauthenticated);
  });

  it("refuses with UNAVAILABLE while it holds no policy, and with the field's name on bad input", async () => {
    const none = routerWith({ gold: executor("gold") }, { classify: undefined });
    await expect(none.client.complete(input())).rejects.toMatchObject({
      code: Code.Unavailable,
      rawMessage: expect.stringContaining("no routing policy yet"),
    });
    const { client } = routerWith({ gold: executor("gold"), silver: executor("silver"), bronze: executor("bronze") });
    await expect(client.complete({})).rejects.toMatchObject({ code: Code.InvalidArgument, rawMessage: "input: required" });
    await expect(client.complete(input({ urgency: "soon" }))).rejects.toMatchObject({
      code: Code.InvalidArgument,
      rawMessage: expect.stringContaining("input.urgency"),
    });
    await expect(client.complete(input(), { headers: { authorization: "Bearer nope" } })).rejects.toMatchObject({
      code: Code.Unauthenticated,
    });
  });

  it("waits as asked when the last tier it may use is rate limited by its provider, then serves it there", async () => {
    const limited = () =>
      new ConnectError("every deployment of tier bronze is rate limited", Code.ResourceExhausted, {
        [ERROR_REASON_HEADER]: PROVIDER_RATE_LIMITED,
        [RETRY_AFTER_HEADER]: "1",
        [RETRY_AFTER_MS_HEADER]: "80",
      });
    let refusals = 2;
    const bronze: Executor = {
      ...executor("bronze"),
      async execute(req, ctx) {
        if (refusals-- > 0) throw limited();
        return executor("bronze").execute(req, ctx);
      },
    };
    const { client, calls } = routerWith({ gold: executor("gold"), silver: executor("silver"), bronze });
    const started = performance.now();
    const res = await client.complete(input({ urgency: "batch" }));
    expect(performance.now() - started).toBeGreaterThanOrEqual(160);
    expect(res.routing).toMatchObject({ requestedTier: "bronze", servedTier: "bronze" });
    expect(res.routing!.reasons.filter((x) => x.includes("rate limited by its provider"))).toHaveLength(2);
    expect(calls).toEqual(["bronze:unary", "bronze:unary", "bronze:unary"]);
  });

  it("does not wait while another tier may serve, nor for a full bulkhead, which sheds load", async () => {
    const limited = new ConnectError("rate limited", Code.ResourceExhausted, {
      [ERROR_REASON_HEADER]: PROVIDER_RATE_LIMITED,
      [RETRY_AFTER_MS_HEADER]: "5000",
    });
    const a = routerWith({ gold: executor("gold", { fail: limited }), silver: executor("silver"), bronze: executor("bronze") });
    const started = performance.now();
    expect((await a.client.complete(input())).routing).toMatchObject({ servedTier: "silver" });
    expect(performance.now() - started).toBeLessThan(1_000);
    const full = new ConnectError("over capacity", Code.ResourceExhausted, { [RETRY_AFTER_HEADER]: "1" });
    const b = routerWith({ gold: executor("gold"), silver: executor("silver"), bronze: executor("bronze", { fail: full }) });
    await expect(b.client.complete(input({ urgency: "batch" }))).rejects.toMatchObject({ code: Code.ResourceExhausted });
    expect(b.calls).toEqual(["bronze:unary"]);
  });

  it("restarts a unary answer that was cut and cannot be continued: the caller had seen none of it", async () => {
    const cut = new ConnectError("stream interrupted after the first token: connection reset", Code.Unavailable, undefined, [
      { desc: InterruptedAnswerSchema, value: { delivered: "hello fr" } },
    ]);
    const noPrefix = (tier: string): Executor => ({
      ...executor(tier),
      async execute(req, ctx) {
        if (req.assistantPrefix) throw new ConnectError(`no deployment of tier ${tier} can continue an answer`, Code.FailedPrecondition);
        return executor(tier).execute(req, ctx);
      },
    });
    const { client, calls } = routerWith({ gold: executor("gold", { fail: cut }), silver: noPrefix("silver"), bronze: noPrefix("bronze") });
    const res = await client.complete(input());
    expect(res.content).toBe("hello from silver");
    expect(res.routing).toMatchObject({ requestedTier: "gold", servedTier: "silver" });
    expect(res.routing!.reasons.join("\n")).toMatch(/could not be continued; the caller had seen none of it, so it restarts/);
    expect(calls).toEqual(["gold:unary", "silver:unary", "bronze:unary", "silver:unary"]);
  });
});

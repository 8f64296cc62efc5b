import { Code, ConnectError } from "@connectrpc/connect";
import { ATTEMPTS_HEADER } from "@tiermesh/proto";
import type { OutcomeInit } from "@tiermesh/tier-status";
import { describe, expect, it } from "vitest";
import { answering, context, failing, FakeProvider, hung, request, seen, tierOf, type Behaviour } from "./fake-provider.test-support.js";
import { TierRunner, type RunContext, type RunEvent, type RunRequest, type RunResult } from "./tier-runner.js";

// TierRunner over in-memory provider adapters: stall detection, where retries may go,
// hedge advice, and canary probes as fresh evidence. random = () => 0, so the first listed
// deployment is picked first.

interface Harness {
  runner: TierRunner;
  provider: FakeProvider;
  outcomes: OutcomeInit[];
  state(id: string): TierRunner["deployments"][number];
}

function harness(models: Record<string, Behaviour>, tier: Record<string, unknown> = {}, now?: () => number): Harness {
  const provider = new FakeProvider(models);
  const outcomes: OutcomeInit[] = [];
  const runner = new TierRunner({
    tierName: "gold",
    tier: tierOf(Object.keys(models), tier),
    providers: new Map([["fake", provider]]),
    report: (o) => outcomes.push(o),
    random: () => 0,
    ...(now ? { now } : {}),
  });
  return { runner, provider, outcomes, state: (id) => runner.deployments.find((d) => d.deployment.id === id)! };
}

interface Settled {
  events: RunEvent[];
  text: string;
  result?: RunResult;
  error?: ConnectError;
  ms: number;
}

async function settle(h: Harness, req: RunRequest = request(), ctx: RunContext = context()): Promise<Settled> {
  const started = performance.now();
  const events: RunEvent[] = [];
  const run = h.runner.run(req, ctx);
  try {
    for (;;) {
      const step = await run.next();
      if (step.done) return { events, text: textOf(events), result: step.value, ms: performance.now() - started };
      events.push(step.value);
    }
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectError);
    return { events, text: textOf(events), error: error as ConnectError, ms: performance.now() - started };
  }
}

const textOf = (events: readonly RunEvent[]) => events.map((e) => (e.type === "text" ? e.text : "")).join("");
const advices = (events: readonly RunEvent[]) => events.filter((e) => e.type === "hedge_advice");

/** 25 quick answers from the first deployment, so its stall threshold is min_ms. */
async function warm(h: Harness): Promise<void> {
  for (let i = 0; i < 25; i++) expect((await settle(h)).result).toBeDefined();
  h.outcomes.length = 0;
}

const STALL = { timeouts: { ttft_ms: 2_000, attempt_ms: 5_000 }, stall: { min_ms: 60 } };

describe("TierRunner: stalls", () => {
  it("a deployment that stops answering is left at the stall threshold, not ttft_ms: every waiting attempt reports STALLED and moves on without backoff", async () => {
    const h = harness({ a: answering(2), b: answering(2) }, { ...STALL, retries: { max_attempts: 2, backoff_ms: 1_000 } });
    await warm(h);
    // min_ms (60) unless a busy machine made the warm-up's TTFTs over 20 ms; far below ttft_ms either way.
    expect(h.state("a").stall.thresholdMs).toBeGreaterThanOrEqual(60);
    expect(h.state("a").stall.thresholdMs).toBeLessThan(300);

    h.provider.models["a"] = hung;
    const runs = await Promise.all([settle(h), settle(h), settle(h)]);

    for (const r of runs) {
      expect(r.result).toMatchObject({ deployment: { id: "b" }, attempts: 2 });
      expect(r.text).toBe("Hello there");
      expect(r.ms).toBeLessThan(500); // not ttft_ms (2 s), nor a 500-1500 ms backoff
    }
    expect(seen(h.outcomes).sort()).toEqual(["a:STALLED", "a:STALLED", "a:STALLED", "b:OK", "b:OK", "b:OK"]);
    // The stalled outcomes come first: reported at detection, not when each attempt unwinds.
    expect(seen(h.outcomes.slice(0, 3))).toEqual(["a:STALLED", "a:STALLED", "a:STALLED"]);
    expect(h.state("a").breaker.state).toBe("open");
    expect(h.state("a").stall).toMatchObject({ stalled: true, stalls: 1, waiting: 0 });

    // While a's breaker is open, requests go straight to b.
    h.outcomes.length = 0;
    expect((await settle(h)).result).toMatchObject({ deployment: { id: "b" }, attempts: 1 });
    expect(h.provider.callsTo("a")).toBe(25 + 3);
  });

  it("when the only deployment stalls the request fails fast with UNAVAILABLE, and so do the next ones, without calling it", async () => {
    const h = harness({ a: answering(2) }, { ...STALL, retries: { max_attempts: 3, backoff_ms: 1_000 } });
    await warm(h);
    h.provider.models["a"] = hung;

    const stalled = await settle(h);
    expect(stalled.error?.code).toBe(Code.Unavailable);
    expect(stalled.error?.rawMessage).toMatch(
      /^tier gold: every deployment is stalled or has an open circuit breaker \(a: stalled, circuit breaker open\)/,
    );
    expect(stalled.error?.metadata.get(ATTEMPTS_HEADER)).toBe("1");
    expect(stalled.ms).toBeLessThan(1_000); // the stall threshold (60 ms), not ttft_ms (2 s)
    expect(seen(h.outcomes)).toEqual(["a:STALLED"]);

    const next = await settle(h);
    expect(next.error?.code).toBe(Code.Unavailable);
    expect(next.error?.metadata.get(ATTEMPTS_HEADER)).toBe("0");
    expect(next.ms).toBeLessThan(200);
    expect(h.provider.callsTo("a")).toBe(26);
  });

  it("without history a hung deployment is judged at ttft_ms: the TTFT timeout proves the stall and moves the other waiting attempts on", async () => {
    const h = harness({ a: hung, b: answering(2) }, { timeouts: { ttft_ms: 150 }, retries: { max_attempts: 2, backoff_ms: 1 } });
    const first = settle(h);
    await new Promise((r) => setTimeout(r, 60));
    const second = settle(h);
    const [r1, r2] = await Promise.all([first, second]);

    expect(r1.result?.deployment.id).toBe("b");
    expect(r2.result?.deployment.id).toBe("b");
    // The second was moved on (STALLED) when the first timed out, before its own 150 ms were up.
    expect(seen(h.outcomes).slice(0, 2)).toEqual(["a:TIMEOUT", "a:STALLED"]);
    expect(h.state("a").breaker.state).toBe("open");
  });

  it("disabled: a hung deployment is only cut by the TTFT timeout", async () => {
    const h = harness(
      { a: hung, b: answering(2) },
      { timeouts: { ttft_ms: 100 }, stall: { enabled: false }, retries: { max_attempts: 2, backoff_ms: 1 } },
    );
    const r = await settle(h);
    expect(r.result?.deployment.id).toBe("b");
    expect(seen(h.outcomes)).toEqual(["a:TIMEOUT", "b:OK"]);
    expect(h.state("a").stall.stalls).toBe(0);
    expect(h.state("a").breaker.state).toBe("closed");
  });
});

describe("TierRunner: where a retry may go", () => {
  it("never back to a deployment that timed out on the request, even with its breaker closed: fail fast instead", async () => {
    const h = harness({ a: hung }, { timeouts: { ttft_ms: 100 }, stall: { enabled: false }, retries: { max_attempts: 3, backoff_ms: 1 } });
    const r = await settle(h);
    expect(h.provider.callsTo("a")).toBe(1);
    expect(r.error?.code).toBe(Code.Unavailable);
    expect(r.error?.rawMessage).toMatch(/a: timed out on this request/);
    expect(r.error?.rawMessage).toMatch(/last error: a: no first token within 100 ms/);
    expect(h.state("a").breaker.state).toBe("closed");
  });

  it("back to a deployment whose last failure on the request was an error, not a timeout", async () => {
    const h = harness(
      { a: failing(), b: hung },
      {
        timeouts: { ttft_ms: 80 },
        stall: { enabled: false },
        retries: { max_attempts: 3, backoff_ms: 1 },
        breaker: { min_requests: 1_000 },
      },
    );
    const r = await settle(h);
    expect(seen(h.outcomes)).toEqual(["a:ERROR", "b:TIMEOUT", "a:ERROR"]);
    expect(r.error?.code).toBe(Code.Unavailable);
  });
});

describe("TierRunner: hedge advice", () => {
  const HEDGE = { hedge: { enabled: true, delay_ms: 30, min_delay_ms: 0, max_extra_ratio: 1 } };

  it("advises a hedge on another tier once the hedge delay passes and the tier has nothing else to hedge on", async () => {
    const h = harness({ a: answering(150) }, HEDGE);
    const r = await settle(h);

    expect(r.events[0]).toMatchObject({ type: "hedge_advice" });
    expect(advices(r.events)).toHaveLength(1);
    const advice = r.events[0] as Extract<RunEvent, { type: "hedge_advice" }>;
    expect(advice.waitedMs).toBeGreaterThanOrEqual(29);
    expect(advice.waitedMs).toBeLessThan(140);
    expect(advice.reason).toMatch(/tier gold has no other usable deployment to hedge on \(a: already waiting on it\)/);
    expect(r.text).toBe("Hello there");
    expect(r.result).toMatchObject({ deployment: { id: "a" }, hedged: false, attempts: 1 });
  });

  it("gives no advice while the deployment answers other requests: a slow one among many is the tier's normal tail", async () => {
    const h = harness({ a: answering(150) }, HEDGE);
    const slow = settle(h);
    await new Promise((r) => setTimeout(r, 2)); // the slow attempt is under way
    h.provider.models["a"] = answering(2);
    // Others get their first tokens while the slow one waits past the hedge delay.
    for (let i = 0; i < 10; i++) {
      await settle(h);
      await new Promise((r) => setTimeout(r, 5));
    }
    const r = await slow;
    expect(advices(r.events)).toEqual([]);
    expect(r.result).toMatchObject({ deployment: { id: "a" } });
  });

  it("advises at most once per request, across retries", async () => {
    let calls = 0;
    const h = harness(
      { a: (req, signal) => (++calls === 1 ? failing(60)(req, signal) : answering(60)(req, signal)) },
      { ...HEDGE, retries: { max_attempts: 3, backoff_ms: 1 }, breaker: { min_requests: 1_000 } },
    );
    const r = await settle(h);
    expect(r.result).toMatchObject({ attempts: 2 });
    expect(advices(r.events)).toHaveLength(1);
  });

  it("gives no advice when the tier hedges itself, hedging is off, no attempt is left, or for probes", async () => {
    const own = harness({ a: answering(150), b: answering(5) }, HEDGE);
    const hedgedHere = await settle(own);
    expect(hedgedHere.result).toMatchObject({ deployment: { id: "b" }, hedged: true });
    expect(advices(hedgedHere.events)).toEqual([]);

    const off = harness({ a: answering(80) }, { hedge: { enabled: false, delay_ms: 30 } });
    expect(advices((await settle(off)).events)).toEqual([]);

    const single = harness({ a: answering(80) }, HEDGE);
    expect(advices((await settle(single, request({ maxAttempts: 1 }))).events)).toEqual([]);
    expect(advices((await settle(single, request({ probe: true }))).events)).toEqual([]);
  });

  it("a caller that stops reading after the advice cancels the attempt", async () => {
    const h = harness({ a: hung }, { ...HEDGE, timeouts: { ttft_ms: 5_000 } });
    const run = h.runner.run(request(), context());
    expect((await run.next()).value).toMatchObject({ type: "hedge_advice" });
    await run.return(undefined as never);
    await expect.poll(() => seen(h.outcomes)).toEqual(["a:CANCELLED"]);
    await expect.poll(() => h.state("a").outstanding).toBe(0);
    expect(h.state("a").stall.waiting).toBe(0);
  });
});

describe("TierRunner: canary probes as fresh evidence", () => {
  it("a directed probe that succeeds closes an open breaker and clears the stall, so traffic returns at once", async () => {
    const h = harness({ a: answering(2) }, { ...STALL, retries: { max_attempts: 1 } });
    await warm(h);
    h.provider.models["a"] = hung;
    expect((await settle(h)).error?.code).toBe(Code.Unavailable);
    expect(h.state("a").breaker.state).toBe("open");
    expect(h.state("a").stall.stalled).toBe(true);

    h.provider.models["a"] = answering(2);
    const probe = await settle(h, request({ probe: true, deployment: "a" }));
    expect(probe.result?.deployment.id).toBe("a");
    expect(h.state("a").breaker.state).toBe("closed");
    expect(h.state("a").stall.stalled).toBe(false);
    expect((await settle(h)).result?.deployment.id).toBe("a");
  });

  it("a stalled deployment gets no user request as its half-open trial within stall.hold_ms; without a hold it does", async () => {
    for (const [holdMs, trialsToA] of [
      [60_000, 0],
      [0, 1],
    ] as const) {
      const h = harness(
        { a: answering(2), b: answering(2) },
        { ...STALL, breaker: { open_ms: 50 }, stall: { min_ms: 60, hold_ms: holdMs } },
      );
      await warm(h);
      h.provider.models["a"] = hung;
      expect((await settle(h)).result?.deployment.id).toBe("b");
      expect(h.state("a").stall.stalled).toBe(true);
      const callsBefore = h.provider.callsTo("a");
      await new Promise((r) => setTimeout(r, 80)); // past open_ms: the breaker reads half-open
      expect(h.state("a").breaker.state).toBe("half_open");
      const r = await settle(h);
      expect(r.result?.deployment.id).toBe("b");
      expect(h.provider.callsTo("a") - callsBefore).toBe(trialsToA);
    }
  });

  it("a directed probe that fails extends nothing: the breaker half-opens when it would have", async () => {
    let t = 1_000_000;
    const h = harness({ a: failing() }, { breaker: { open_ms: 5_000 } }, () => t);
    h.state("a").breaker.trip();
    t += 4_000;
    expect((await settle(h, request({ probe: true, deployment: "a" }))).error?.code).toBe(Code.Unavailable);
    t += 1_000;
    expect(h.state("a").breaker.state).toBe("half_open");
    // Nor does it use up or re-open a half-open breaker.
    expect((await settle(h, request({ probe: true, deployment: "a" }))).error?.code).toBe(Code.Unavailable);
    expect(h.state("a").breaker.state).toBe("half_open");
    expect(h.state("a").breaker.allow()).toBe(true);
  });

  it("a hung probe proves no stall (probes are not watched) and is not reported", async () => {
    const h = harness({ a: hung }, { timeouts: { ttft_ms: 100 } });
    const r = await settle(h, request({ probe: true, deployment: "a" }));
    expect(r.error?.code).toBe(Code.DeadlineExceeded);
    expect(h.state("a").stall.stalls).toBe(0);
    expect(h.outcomes).toEqual([]);
  });
});

describe("TierRunner: long answers against attempt_ms", () => {
  /** First token at once, then a piece every `gapMs` for `pieces` pieces. */
  const trickling = (pieces: number, gapMs: number): Behaviour =>
    async function* (_request, signal) {
      for (let i = 0; i < pieces; i++) {
        await new Promise((r) => setTimeout(r, i === 0 ? 0 : gapMs));
        if (signal.aborted) throw signal.reason;
        yield { type: "delta", text: "." };
      }
      yield { type: "done", finishReason: "stop", usage: { promptTokens: 11, completionTokens: pieces } };
    };

  it("a stream that keeps coming is not cut at attempt_ms, only at the caller's deadline", async () => {
    // 30 pieces 20 ms apart: about 600 ms, three times attempt_ms; the inter-token watch sees no silence.
    const h = harness({ a: trickling(30, 20) }, { timeouts: { attempt_ms: 200, ttft_ms: 100 }, retries: { max_attempts: 1 } });
    const r = await settle(h, request(), context(5_000));
    expect(r.error).toBeUndefined();
    expect(r.text).toBe(".".repeat(30));
    expect(r.ms).toBeGreaterThan(200);
    expect(seen(h.outcomes)).toEqual(["a:OK"]);
    // The caller's deadline still bounds it.
    const cut = await settle(
      harness({ a: trickling(30, 20) }, { timeouts: { attempt_ms: 200, ttft_ms: 100 }, retries: { max_attempts: 1 } }),
      request(),
      context(300),
    );
    expect(cut.error?.message).toMatch(/deadline/);
    expect(cut.text.length).toBeLessThan(30);
  });

  it("without the inter-token watch, attempt_ms bounds the whole answer", async () => {
    const h = harness(
      { a: trickling(30, 20) },
      { timeouts: { attempt_ms: 200, ttft_ms: 100 }, retries: { max_attempts: 1 }, stall: { inter_token: { enabled: false } } },
    );
    const r = await settle(h, request(), context(5_000));
    expect(r.error?.message).toMatch(/no answer within 200 ms/);
    expect(r.text.length).toBeLessThan(30);
  });
});

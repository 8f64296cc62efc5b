import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import {
  DEPLOYMENT_COOLING,
  ERROR_REASON_HEADER,
  ExecuteResponseSchema,
  OutcomeStatus,
  RETRY_AFTER_HEADER,
  RETRY_AFTER_MS_HEADER,
  TierExecutorService,
  type ExecuteRequest,
  type Outcome,
} from "@tiermesh/proto";
import { createMetricsRegistry } from "@tiermesh/runtime";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { CanaryProber, type CanaryProberOptions } from "./canary-prober.js";
import { registerProbeMetrics } from "./probe-metrics.js";

const config = monitorTestConfig(
  `
  gold:
    rank: 2
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: { ttft_p95_ms: 800 }
  bronze:
    rank: 1
    executor: { listen: "127.0.0.1:6" }
    models: [{ provider: p, model: s, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
`,
  `{ listen: "127.0.0.1:3", probe: { interval_ms: 1000, timeout_ms: 5000 } }`,
);

interface Call {
  tier: string;
  deployment: string;
  at: number;
  timeoutMs: number | undefined;
}

/**
 * A prober over in-memory executors; `hang` makes a tier's executor never answer, `refuse`
 * makes it fail with the given error.
 */
function setup(recovering: (tier: string) => boolean, options: Partial<CanaryProberOptions> = {}) {
  const calls: Call[] = [];
  const outcomes: Outcome[] = [];
  const hang = new Set<string>();
  const refuse = new Map<string, () => ConnectError>();
  const execute = async (req: ExecuteRequest, ctx: HandlerContext) => {
    calls.push({ tier: req.tier, deployment: req.deployment, at: Date.now(), timeoutMs: ctx.timeoutMs() });
    if (hang.has(req.tier)) await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    const refusal = refuse.get(req.tier);
    if (refusal) throw refusal();
    return create(ExecuteResponseSchema, {
      tier: req.tier,
      deployment: req.deployment,
      model: "m",
      provider: "p",
      timings: { ttftUs: 50_000n },
      costUsd: 0.000_01,
    });
  };
  const prober = new CanaryProber({
    config,
    record: (o) => outcomes.push(o),
    recovering,
    transport: () => createRouterTransport(({ service }) => service(TierExecutorService, { execute })),
    ...options,
  });
  return { prober, calls, outcomes, hang, refuse, of: (tier: string) => calls.filter((c) => c.tier === tier) };
}

/** The executor's refusal of a probe to a deployment cooling down for `ms` more. */
const cooling = (ms: number) => () =>
  new ConnectError("rate limited; probe not sent", Code.ResourceExhausted, {
    [ERROR_REASON_HEADER]: DEPLOYMENT_COOLING,
    [RETRY_AFTER_HEADER]: String(Math.ceil(ms / 1_000)),
    [RETRY_AFTER_MS_HEADER]: String(ms),
  });

describe("CanaryProber", () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("probes each deployment of a calm tier every interval_ms, pinned to it, and records one outcome per probe", async () => {
    const { prober, calls, outcomes } = setup(() => false);
    prober.start();
    await vi.advanceTimersByTimeAsync(3_100);
    prober.stop();
    expect(calls.map((c) => `${c.tier} ${c.deployment}`)).toEqual([
      "gold p/m",
      "bronze p/s",
      "gold p/m",
      "bronze p/s",
      "gold p/m",
      "bronze p/s",
    ]);
    expect(calls.every((c) => c.timeoutMs !== undefined && c.timeoutMs > 4_900 && c.timeoutMs <= 5_000)).toBe(true);
    expect(outcomes).toHaveLength(6);
    expect(outcomes[0]).toMatchObject({ tier: "gold", deployment: "p/m", status: OutcomeStatus.OK, probe: true, ttftMs: 50 });
    expect(Number(outcomes[0]!.atMs)).toBeGreaterThan(1_000_000);
  });

  it("probes a down or recovering tier every down_interval_ms (200 ms by default), others as before", async () => {
    const { prober, of } = setup((tier) => tier === "gold");
    prober.start();
    await vi.advanceTimersByTimeAsync(2_050);
    prober.stop();
    expect(of("gold")).toHaveLength(10);
    expect(of("bronze")).toHaveLength(2);
  });

  it("follows the tier's state as it changes", async () => {
    let down = false;
    const { prober, of } = setup(() => down);
    prober.start();
    await vi.advanceTimersByTimeAsync(1_050);
    expect(of("gold")).toHaveLength(1);
    down = true;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(of("gold")).toHaveLength(6);
    down = false;
    await vi.advanceTimersByTimeAsync(1_000);
    prober.stop();
    expect(of("gold")).toHaveLength(7);
  });

  it("keeps one probe per deployment in flight; a recovering tier's probe gives up after twice its TTFT SLO", async () => {
    const { prober, of, outcomes, hang } = setup((tier) => tier === "gold");
    hang.add("gold");
    prober.start();
    await vi.advanceTimersByTimeAsync(1_000);
    // One hung probe, no pile-up behind it.
    expect(of("gold")).toHaveLength(1);
    expect(of("gold")[0]!.timeoutMs).toBeLessThanOrEqual(1_600);
    await vi.advanceTimersByTimeAsync(1_050);
    const timedOut = outcomes.filter((o) => o.tier === "gold");
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]).toMatchObject({ status: OutcomeStatus.TIMEOUT, deployment: "p/m", model: "m", probe: true });
    expect(timedOut[0]!.latencyMs).toBeGreaterThanOrEqual(1_590);
    // The next probe starts at the first tick after it ended.
    expect(of("gold")).toHaveLength(2);
    expect(of("gold")[1]!.at - of("gold")[0]!.at).toBeLessThanOrEqual(1_800);
    prober.stop();
  });

  it("interval_ms 0 disables probes", async () => {
    const off = structuredClone(config);
    off.health_monitor.probe.interval_ms = 0;
    const calls: string[] = [];
    const prober = new CanaryProber({
      config: off,
      record: () => {},
      recovering: () => true,
      transport: () =>
        createRouterTransport(({ service }) =>
          service(TierExecutorService, {
            execute(req) {
              calls.push(req.tier);
              return create(ExecuteResponseSchema, {});
            },
          }),
        ),
    });
    prober.start();
    await vi.advanceTimersByTimeAsync(5_000);
    prober.stop();
    expect(calls).toEqual([]);
  });

  it("sends the smallest probe: the probe prompt and max_tokens 1 by default", async () => {
    let seen: ExecuteRequest | undefined;
    const prober = new CanaryProber({
      config,
      record: () => {},
      transport: () =>
        createRouterTransport(({ service }) =>
          service(TierExecutorService, {
            execute(req) {
              seen = req;
              return create(ExecuteResponseSchema, {});
            },
          }),
        ),
    });
    await prober.probe("gold", { id: "p/m", provider: "p", model: "m" });
    expect(seen).toMatchObject({
      probe: true,
      deployment: "p/m",
      input: { maxTokens: 1, messages: [{ role: "user", content: "Reply with OK." }] },
    });
  });

  it("does not probe a deployment real traffic covers; probes it once traffic has been silent for interval_ms", async () => {
    let goldTraffic: number | undefined;
    const { prober, of } = setup(() => false, { trafficAt: (tier) => (tier === "gold" ? goldTraffic : undefined) });
    prober.start();
    for (let i = 0; i < 15; i++) {
      goldTraffic = Date.now();
      await vi.advanceTimersByTimeAsync(200);
    }
    // 3 s of traffic on gold: no probe there; idle bronze still probed every second.
    expect(of("gold")).toHaveLength(0);
    expect(of("bronze")).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1_100);
    prober.stop();
    expect(of("gold")).toHaveLength(1);
    expect(of("gold")[0]!.at - goldTraffic!).toBeGreaterThanOrEqual(900);
  });

  it("keeps probing a down tier every down_interval_ms once traffic has left it", async () => {
    const last = Date.now();
    const { prober, of } = setup((tier) => tier === "gold", { trafficAt: () => last });
    prober.start();
    await vi.advanceTimersByTimeAsync(2_050);
    prober.stop();
    expect(of("gold")).toHaveLength(10);
  });

  it("a probe refused inside a Retry-After records no outcome and is not asked again until the wait is over", async () => {
    const metrics = createMetricsRegistry("test");
    const { prober, of, outcomes, refuse } = setup((tier) => tier === "gold", { metrics: registerProbeMetrics(metrics) });
    refuse.set("gold", cooling(1_500));
    prober.start();
    await vi.advanceTimersByTimeAsync(1_000);
    expect(of("gold")).toHaveLength(1);
    refuse.delete("gold");
    // Refused at the first tick (200 ms): a down tier, probed every 200 ms, yet nothing is asked inside the 1.5 s wait.
    await vi.advanceTimersByTimeAsync(600);
    expect(of("gold")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200);
    expect(of("gold")).toHaveLength(2);
    prober.stop();
    expect(of("gold")[1]!.at - of("gold")[0]!.at).toBeGreaterThanOrEqual(1_500);
    const gold = outcomes.filter((o) => o.tier === "gold");
    expect(gold.map((o) => OutcomeStatus[o.status])).toEqual(["OK"]);
    const text = await metrics.metrics();
    expect(text).toMatch(
      /tiermesh_monitor_probes_skipped_total\{tier="gold",deployment="p\/m",reason="retry_after",service="test"\} [1-9]/,
    );
    expect(text).toMatch(/tiermesh_monitor_probes_total\{tier="gold",deployment="p\/m",outcome="ok",service="test"\} 1\n/);
  });

  it("a 429 answered to a probe is recorded as rate limited, and its Retry-After is honoured", async () => {
    const { prober, of, outcomes, refuse } = setup((tier) => tier === "gold");
    refuse.set("gold", () => new ConnectError("HTTP 429", Code.ResourceExhausted, { [RETRY_AFTER_HEADER]: "2" }));
    prober.start();
    await vi.advanceTimersByTimeAsync(2_100);
    prober.stop();
    expect(of("gold")).toHaveLength(1);
    expect(outcomes.filter((o) => o.tier === "gold").map((o) => OutcomeStatus[o.status])).toEqual(["RATE_LIMITED"]);
  });

  it("an absurd Retry-After on a probe's 429 holds probes back for cooldown.max_ms at most", async () => {
    const { prober, of, refuse } = setup((tier) => tier === "gold");
    refuse.set("gold", () => new ConnectError("HTTP 429", Code.ResourceExhausted, { [RETRY_AFTER_HEADER]: "86400" }));
    prober.start();
    await vi.advanceTimersByTimeAsync(60_100);
    expect(of("gold")).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(400);
    prober.stop();
    expect(of("gold")).toHaveLength(2);
  });

  it("counts probes and their cost per deployment in /metrics", async () => {
    const metrics = createMetricsRegistry("test");
    const { prober } = setup(() => false, { metrics: registerProbeMetrics(metrics) });
    prober.start();
    await vi.advanceTimersByTimeAsync(3_100);
    prober.stop();
    const text = await metrics.metrics();
    expect(text).toContain('tiermesh_monitor_probes_total{tier="gold",deployment="p/m",outcome="ok",service="test"} 3');
    expect(text).toContain('tiermesh_monitor_probe_cost_usd_total{tier="gold",deployment="p/m",service="test"} 0.00003');
  });
});

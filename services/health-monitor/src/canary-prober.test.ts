import { create } from "@bufbuild/protobuf";
import { createRouterTransport, type HandlerContext } from "@connectrpc/connect";
import { ExecuteResponseSchema, OutcomeStatus, TierExecutorService, type ExecuteRequest, type Outcome } from "@tiermesh/proto";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { CanaryProber } from "./canary-prober.js";

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

/** A prober over in-memory executors; `hang` makes a tier's executor never answer. */
function setup(recovering: (tier: string) => boolean) {
  const calls: Call[] = [];
  const outcomes: Outcome[] = [];
  const hang = new Set<string>();
  const execute = async (req: ExecuteRequest, ctx: HandlerContext) => {
    calls.push({ tier: req.tier, deployment: req.deployment, at: Date.now(), timeoutMs: ctx.timeoutMs() });
    if (hang.has(req.tier)) await new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));
    return create(ExecuteResponseSchema, { tier: req.tier, deployment: req.deployment, model: "m", provider: "p", timings: { ttftUs: 50_000n } });
  };
  const prober = new CanaryProber({
    config,
    record: (o) => outcomes.push(o),
    recovering,
    transport: () => createRouterTransport(({ service }) => service(TierExecutorService, { execute })),
  });
  return { prober, calls, outcomes, hang, of: (tier: string) => calls.filter((c) => c.tier === tier) };
}

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
    expect(calls.map((c) => `${c.tier} ${c.deployment}`)).toEqual(["gold p/m", "bronze p/s", "gold p/m", "bronze p/s", "gold p/m", "bronze p/s"]);
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
});

import { create } from "@bufbuild/protobuf";
import type { TierSloConfig } from "@tiermesh/config";
import { OutcomeSchema, OutcomeStatus, TierState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { monitorTestConfig } from "./monitor-config.test-support.js";
import { ProbeSchedule } from "./probe-schedule.js";
import { TierHealth } from "./tier-health.js";

/**
 * Simulated drills against one tier with one deployment, driven the way the mesh drives the
 * monitor: canary probes on the prober's schedule (fast while down or recovering, one in
 * flight), and traffic at 50 req/s that the router sends only while the tier is not down
 * (a quarter of it while degraded after down: the first return step). Faults decide an
 * attempt's fate when it starts: "error" answers a 503 at once, "hang" never answers (traffic
 * is reported STALLED by the executor after 500 ms, a probe times out).
 */

function defaults(slo: Record<string, unknown> = {}) {
  const config = monitorTestConfig(`
  gold:
    rank: 1
    executor: { listen: "127.0.0.1:5" }
    models: [{ provider: p, model: m, price: { input_per_mtok: 1, output_per_mtok: 1 } }]
    slo: ${JSON.stringify(slo)}
`);
  return { slo: config.tiers["gold"]!.slo, probe: config.health_monitor.probe };
}

type Fault = "error" | "hang";

interface Drill {
  slo: TierSloConfig;
  probe: { interval_ms: number; down_interval_ms: number; timeout_ms: number };
  fault: Fault;
  /** Whether the provider is failing at time t (ms). */
  failing: (t: number) => boolean;
  endMs: number;
}

interface Change {
  at: number;
  from: TierState;
  to: TierState;
  reason: string;
}

const TRAFFIC_EVERY_MS = 20; // 50 req/s
const STALL_MS = 500;
const OK_LATENCY_MS = 300;
const PROBE_LATENCY_MS = 130;

function runDrill(d: Drill): { changes: Change[]; stateAt: (t: number) => TierState } {
  const health = new TierHealth("gold", d.slo);
  const schedule = new ProbeSchedule(d.probe.interval_ms, d.probe.down_interval_ms);
  const pending = new Map<number, { status: OutcomeStatus; latency: number; probe: boolean }[]>();
  const changes: Change[] = [];
  const timeline: { at: number; state: TierState }[] = [{ at: 0, state: TierState.HEALTHY }];
  let probeBusyUntil = -1;
  let trafficShare = 0;
  const finish = (end: number, status: OutcomeStatus, latency: number, probe: boolean) => {
    const list = pending.get(end) ?? [];
    list.push({ status, latency, probe });
    pending.set(end, list);
  };
  const attempt = (t: number, probe: boolean, timeoutMs: number) => {
    if (!d.failing(t)) {
      const latency = probe ? PROBE_LATENCY_MS : OK_LATENCY_MS;
      finish(t + latency, OutcomeStatus.OK, latency, probe);
      return t + latency;
    }
    if (d.fault === "error") {
      finish(t + 5, OutcomeStatus.ERROR, 5, probe);
      return t + 5;
    }
    const latency = probe ? timeoutMs : STALL_MS;
    finish(t + latency, probe ? OutcomeStatus.TIMEOUT : OutcomeStatus.STALLED, latency, probe);
    return t + latency;
  };
  for (let t = 0; t < d.endMs; t++) {
    const recovering = health.recovering;
    if (t % schedule.tickMs === 0 && t >= probeBusyUntil && schedule.take("gold/m", t, recovering)) {
      const timeout = recovering ? Math.min(d.probe.timeout_ms, 2 * d.slo.ttft_p95_ms) : d.probe.timeout_ms;
      probeBusyUntil = attempt(t, true, timeout);
    }
    // What the router sends: nothing while down, the first return step while recovering.
    const state = health.state;
    const share = state === TierState.DOWN ? 0 : recovering ? 0.25 : 1;
    if (t % TRAFFIC_EVERY_MS === 0) {
      trafficShare += share;
      if (trafficShare >= 1) {
        trafficShare -= 1;
        attempt(t, false, 0);
      }
    }
    for (const o of pending.get(t) ?? []) {
      const ttftMs = o.status === OutcomeStatus.OK ? 120 : 0;
      health.record(
        create(OutcomeSchema, { tier: "gold", status: o.status, latencyMs: o.latency, ttftMs, probe: o.probe, atMs: BigInt(t) }),
        t,
      );
    }
    const arrived = pending.delete(t);
    // The monitor evaluates after every outcome batch and every evaluate_interval_ms (100 ms).
    if (!arrived && t % 100 !== 0) continue;
    const c = health.evaluate(t);
    if (c) {
      changes.push({ at: t, from: c.previous, to: c.state, reason: c.reason });
      timeline.push({ at: t, state: c.state });
    }
  }
  const stateAt = (t: number) => timeline.filter((e) => e.at <= t).at(-1)!.state;
  return { changes, stateAt };
}

const describeChanges = (changes: Change[]) =>
  changes.map((c) => `${c.at} ms ${TierState[c.from]} -> ${TierState[c.to]}: ${c.reason}`).join("\n");

/** Time (ms) spent in each state within [from, to). */
function timeIn(changes: Change[], from: number, to: number): Record<"healthy" | "degraded" | "down", number> {
  const out = { healthy: 0, degraded: 0, down: 0 };
  const name = (s: TierState) => (s === TierState.DOWN ? "down" : s === TierState.DEGRADED ? "degraded" : "healthy") as keyof typeof out;
  let state: TierState = TierState.HEALTHY;
  let at = from;
  for (const c of changes) {
    if (c.at <= from) {
      state = c.to;
      continue;
    }
    if (c.at >= to) break;
    out[name(state)] += c.at - at;
    state = c.to;
    at = c.at;
  }
  out[name(state)] += to - at;
  return out;
}

const WARMUP = 10_000;

describe("recovery drill: one deployment faulted for 6 s under 50 req/s (default config)", () => {
  // [fault, the tier's TTFT SLO, longest time from the fault's end to degraded (recovering)].
  // Three fresh probe successes 200 ms apart; after a hang, the probe caught in it first runs
  // out its timeout (twice the TTFT SLO while the tier is down), whence the wider bound.
  const cases: [Fault, number, number][] = [
    ["error", 800, 1_000],
    ["hang", 800, 2_600],
    ["error", 2_000, 1_000],
    ["hang", 2_000, 4_800],
  ];
  for (const [fault, ttft, degradedWithin] of cases) {
    it(`${fault}, TTFT SLO ${ttft} ms: down at once, recovering within ${degradedWithin} ms of the fault's end, healthy a dwell later`, () => {
      const { slo, probe } = defaults({ ttft_p95_ms: ttft });
      const faultEnd = WARMUP + 6_000;
      const { changes } = runDrill({ slo, probe, fault, failing: (t) => t >= WARMUP && t < faultEnd, endMs: faultEnd + 20_000 });
      const log = describeChanges(changes);
      expect(
        changes.map((c) => c.to),
        log,
      ).toEqual([TierState.DOWN, TierState.DEGRADED, TierState.HEALTHY]);
      const [down, degraded, healthy] = changes as [Change, Change, Change];
      // Requests in flight when the fault starts still succeed and break the failure streak for a moment.
      expect(down.at - WARMUP, log).toBeLessThan(1_000);
      expect(degraded.at - faultEnd, log).toBeLessThan(degradedWithin);
      // Then min_dwell_ms (3 s) on fresh samples only: the outage's failures are gone from the window.
      expect(healthy.at - degraded.at, log).toBeLessThanOrEqual(slo.min_dwell_ms + 200);
    });
  }
});

describe("flapping provider: 2 s down, 2 s up, for a minute (default config)", () => {
  for (const fault of ["error", "hang"] as const) {
    it(`${fault}: few state changes, never reported healthy while it flaps, healthy soon after it stops`, () => {
      const { slo, probe } = defaults();
      const flapEnd = WARMUP + 60_000;
      const failing = (t: number) => t >= WARMUP && t < flapEnd && (t - WARMUP) % 4_000 < 2_000;
      const { changes, stateAt } = runDrill({ slo, probe, fault, failing, endMs: flapEnd + 20_000 });
      const log = describeChanges(changes);
      const during = changes.filter((c) => c.at < flapEnd);
      const time = timeIn(changes, during[0]!.at, flapEnd);
      // Down at the first fault; every later recovery has to prove twice as much (flap damping),
      // so within two or three cycles the tier stays down until the flapping stops.
      expect(during.length, log).toBeLessThanOrEqual(6);
      expect(
        during.filter((c) => c.at >= WARMUP + 20_000),
        log,
      ).toEqual([]);
      // Never healthy again while flapping: users moved off are held (sticky) until it is confirmed healthy.
      expect(time.healthy, log).toBe(0);
      expect(time.down + time.degraded, log).toBeGreaterThan(59_000);
      // After the flapping: degraded on fresh probes, healthy after the dwell.
      const after = changes.filter((c) => c.at >= flapEnd);
      expect(
        after.map((c) => c.to),
        log,
      ).toEqual([TierState.DEGRADED, TierState.HEALTHY]);
      expect(after[1]!.at - flapEnd, log).toBeLessThan(8_000);
      expect(stateAt(flapEnd + 19_999)).toBe(TierState.HEALTHY);
    });
  }
});

import type { RateLimits } from "@tiermesh/config";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RateLimiter, type SharingMode } from "./rate-limiter.js";

const WINDOW = 60_000;
const SYNC = 100;

const limitsOf = (rpm?: number, tpm?: number): RateLimits => ({
  requestsPerMinute: rpm,
  tokensPerMinute: tpm,
  outputTokensEstimate: undefined,
});

/** Replicas on one fake clock whose reports reach the others after `delayMs`, as UsageExchange would carry them. */
function cluster(count: number, limits: RateLimits, options: { delayMs?: number; shared?: boolean } = {}) {
  const clock = { now: 10 * WINDOW + 1 };
  const delay = options.delayMs ?? 1;
  const inFlight: { at: number; to: number; from: number; report: ReturnType<RateLimiter["report"]> }[] = [];
  const mode = (): SharingMode => ({ shared: options.shared ?? true, replicas: count, liveSince: clock.now - 1_000 });
  const replicas: RateLimiter[] = [];
  const publish = (from: number, full: boolean) => {
    const report = replicas[from]!.report(full);
    for (let to = 0; to < count; to++) if (to !== from) inFlight.push({ at: clock.now + delay, to, from, report });
  };
  for (let i = 0; i < count; i++) {
    replicas.push(new RateLimiter({ limits: () => limits, mode, syncMs: SYNC, now: () => clock.now, onClaim: () => publish(i, false) }));
  }
  const deliver = () => {
    for (let k = 0; k < inFlight.length; ) {
      const m = inFlight[k]!;
      if (m.at > clock.now) {
        k++;
        continue;
      }
      for (const u of m.report) replicas[m.to]!.applyRemote(`r${m.from}`, u.tenant, u.window, u.counts, u.ceiling);
      inFlight.splice(k, 1);
    }
  };
  /** Moves the clock, delivering reports and running every replica's sync period on the way. */
  const advance = (ms: number) => {
    const end = clock.now + ms;
    while (clock.now < end) {
      clock.now += 1;
      deliver();
      for (let i = 0; i < count; i++) {
        if ((clock.now + i * 37) % SYNC === 0) {
          replicas[i]!.tick();
          publish(i, false);
        }
      }
    }
  };
  return { replicas, advance, clock };
}

describe("RateLimiter on one replica", () => {
  it("admits requests_per_minute in a minute, then refuses with the time until one fits", () => {
    const { replicas, advance } = cluster(1, limitsOf(10));
    const r = replicas[0]!;
    const decisions = Array.from({ length: 12 }, () => r.admit("acme", () => 0));
    expect(decisions.filter((d) => d.admitted)).toHaveLength(10);
    const refused = decisions[10]!;
    expect(refused).toMatchObject({ admitted: false, limit: "requests_per_minute" });
    if (refused.admitted) throw new Error("expected a refusal");
    // Nothing fits before the window ends (the previous window then weighs in as it slides out).
    expect(refused.retryAfterMs).toBeGreaterThan(WINDOW - 10_000);
    expect(refused.message).toMatch(/limit 10, used 10 in the last minute/);
    advance(WINDOW);
    // The previous minute still weighs (almost) all of itself a moment into the next one.
    expect(r.admit("acme", () => 0).admitted).toBe(false);
    advance(WINDOW / 2);
    const half = Array.from({ length: 10 }, () => r.admit("acme", () => 0)).filter((d) => d.admitted).length;
    expect(half).toBeGreaterThanOrEqual(4);
    expect(half).toBeLessThanOrEqual(6);
  });

  it("charges tokens and refuses a request larger than tokens_per_minute with no retry-after", () => {
    const { replicas } = cluster(1, limitsOf(undefined, 1_000));
    const r = replicas[0]!;
    expect(r.admit("acme", () => 600)).toEqual({ admitted: true, cost: { requests: 1, tokens: 600 } });
    expect(r.admit("acme", () => 600)).toMatchObject({ admitted: false, limit: "tokens_per_minute" });
    expect(r.admit("acme", () => 1_001)).toMatchObject({ admitted: false, limit: "tokens_per_minute", retryAfterMs: undefined });
    expect(r.admit("acme", () => 400)).toMatchObject({ admitted: true });
  });

  it("does not count tenants without limits", () => {
    const r = new RateLimiter({ limits: () => limitsOf(), mode: () => ({ shared: true, replicas: 1, liveSince: 0 }), syncMs: SYNC });
    expect(r.admit("acme", () => 1)).toEqual({ admitted: true });
    expect(r.report(true)).toEqual([]);
  });
});

describe("RateLimiter shared by replicas", () => {
  it("lets a tiny limit be used whole through one replica while the other is idle", () => {
    const { replicas } = cluster(2, limitsOf(2));
    expect([0, 1, 2].map(() => replicas[0]!.admit("acme", () => 0).admitted)).toEqual([true, true, false]);
  });

  it("keeps each replica to limit / replicas on its own counts while NATS is down", () => {
    const { replicas } = cluster(2, limitsOf(100), { shared: false });
    const admitted = replicas.map((r) => Array.from({ length: 100 }, () => r.admit("acme", () => 0)).filter((d) => d.admitted).length);
    expect(admitted).toEqual([50, 50]);
  });

  it("never lets replicas together pass the limit by more than one request each, whatever the traffic", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 4 }),
        fc.integer({ min: 2, max: 500 }),
        fc.array(fc.record({ replica: fc.nat(), gap: fc.integer({ min: 0, max: 40 }), burst: fc.integer({ min: 1, max: 20 }) }), {
          minLength: 1,
          maxLength: 200,
        }),
        fc.integer({ min: 1, max: 20 }),
        (count, limit, traffic, delayMs) => {
          const { replicas, advance } = cluster(count, limitsOf(limit), { delayMs });
          let admitted = 0;
          for (const t of traffic) {
            advance(t.gap);
            for (let b = 0; b < t.burst; b++) if (replicas[t.replica % count]!.admit("acme", () => 0).admitted) admitted++;
          }
          // All traffic is inside one window (at most 8 s), so the limit holds for the whole run.
          expect(admitted).toBeLessThanOrEqual(limit + count);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("does not hand out the same headroom twice when a replica claims again before hearing a claim made without its own", () => {
    // Reports take 15 ms; replica 0's sync periods start at ...00 ms, replica 1's at ...63 ms.
    const { replicas, advance } = cluster(2, limitsOf(4), { delayMs: 15 });
    const admit = (replica: number, requests: number) =>
      Array.from({ length: requests }, () => replicas[replica]!.admit("acme", () => 0).admitted);
    advance(34);
    // Replica 1 claims half the limit on its first request and uses it up.
    expect(admit(1, 2)).toEqual([true, true]);
    advance(14);
    // Replica 0 claims before replica 1's claim arrives: half the limit too, and one request past it from what looks unclaimed.
    expect(admit(0, 3)).toEqual([true, true, true]);
    advance(14);
    // Replica 1's sync period comes before replica 0's claim arrives. Replica 0 counted it at nothing
    // claimed, and it has admitted past that, so it neither raises its ceiling nor lets one more through.
    expect(admit(1, 2)).toEqual([false, false]);
  });

  it("claims again on the first request once a raise is safe when its sync period came too soon after the last one", () => {
    const { replicas, advance } = cluster(2, limitsOf(100));
    const admit = (requests: number) => Array.from({ length: requests }, () => replicas[1]!.admit("acme", () => 0).admitted);
    advance(34);
    // Half the limit, and one request past it from the unclaimed headroom.
    expect(admit(52)).toEqual([...Array(51).fill(true), false]);
    // Its sync period (at 63 ms) comes within two deliveries of that: no raise yet.
    advance(35);
    expect(admit(1)).toEqual([false]);
    // Well before the next period, the first request claims half of what is left (24.5), and one more may pass past it.
    advance(10);
    expect(admit(26)).toEqual([...Array(25).fill(true), false]);
  });

  it("admits close to the limit when two replicas share twice its rate evenly", () => {
    const limit = 600;
    const { replicas, advance } = cluster(2, limitsOf(limit), { delayMs: 5 });
    let admitted = 0;
    // 2 x 600 requests spread over the minute: one every 50 ms, alternating replicas.
    for (let i = 0; i < 2 * limit - 2; i++) {
      advance(WINDOW / (2 * limit));
      if (replicas[i % 2]!.admit("acme", () => 0).admitted) admitted++;
    }
    expect(admitted).toBeLessThanOrEqual(limit + 2);
    expect(admitted).toBeGreaterThanOrEqual(0.95 * limit);
  });
});

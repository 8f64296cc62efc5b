import type { Config, TierLadder } from "@tiermesh/config";
import { TierState } from "@tiermesh/proto";
import type { TierView } from "./tier-view.js";
import { userFraction } from "./user-hash.js";

export interface RouteInput {
  /** Tier the classifier assigned. */
  tier: string;
  /** The plan's range: promotion never goes above max, fallback never below min. */
  minTier: string;
  maxTier: string;
  /** Whose experience stickiness and progressive return keep stable (tenant + user). */
  userKey: string;
  /**
   * The request carries no user id (an internal service, say): it is never held by
   * stickiness (one shared key would pin a whole service), and during a return it is let
   * back by a random draw per request against the step's share.
   */
  anonymous?: boolean | undefined;
  /** Set when the tenant must not be promoted because of its budget: the reason. */
  overBudget?: string | undefined;
}

export interface RoutePlan {
  /** Tiers to try in order: the first serves, the rest are in-request fallbacks. */
  tiers: string[];
  reasons: string[];
  /** Call when the request is over; releases the promotion capacity it held. */
  done: () => void;
}

interface Sticky {
  from: string;
  to: string;
  until: number;
}

interface ReturnRamp {
  /** Where the tier's traffic went while it was moved. */
  to: string;
  /** Index of the current step in `return_steps`. */
  step: number;
  /** When the current step began; undefined before the return starts and while it is paused. */
  stepSince: number | undefined;
  /** The tier was seen healthy since it was left: degraded from then on is bad again, not recovering. */
  confirmed: boolean;
}

const MAX_STICKY_USERS = 100_000;

/**
 * Per-tier routing policy: on degraded or down, promote a tier's traffic to a higher tier
 * (within the plan's entitlement and a share of the target's capacity) or fall back down
 * its chain (never below the quality floor).
 *
 * Return after an outage: once the tier is no longer down (degraded = recovering, with
 * `on_degraded: stay`, or healthy) its traffic comes back along `return_steps`, one step per
 * `return_step_ms`: users by a stable hash of their key, requests without a user id by a
 * random draw per request. The steps advance while the tier recovers or is healthy, pause
 * while it is degraded again after being healthy, and start over after it goes down again.
 * Users moved off it stay where they were moved (`sticky_ms` at most) while it is not
 * confirmed healthy, so an unstable tier does not flip them back and forth; the hold ends as
 * soon as it is healthy (they then follow the steps) or when their new tier gets worse.
 */
export class RoutingPolicy {
  private readonly sticky = new Map<string, Sticky>();
  private readonly ramps = new Map<string, ReturnRamp>();
  private readonly promoted = new Map<string, number>();

  constructor(
    private readonly config: Pick<Config, "tiers">,
    private readonly ladder: TierLadder,
    private readonly view: (tier: string) => TierView,
    /** Draws for requests without a user id (tests inject a seeded one). */
    private readonly random: () => number = Math.random,
  ) {}

  /** Promoted requests in flight per target tier (metrics, tests). */
  promotedInFlight(tier: string): number {
    return this.promoted.get(tier) ?? 0;
  }

  plan(input: RouteInput, now = Date.now()): RoutePlan {
    const requested = input.tier;
    const routing = this.config.tiers[requested]!.routing;
    const floor = this.higher(input.minTier, routing.floor ?? this.ladder.lowest);
    const reasons: string[] = [];
    const v = this.view(requested);
    let target = requested;
    let promotedTo: string | undefined;

    const bad = v.state === TierState.DOWN || v.state === TierState.DEGRADED;
    const action = v.state === TierState.DOWN ? routing.on_down : v.state === TierState.DEGRADED ? routing.on_degraded : "stay";
    const anonymous = input.anonymous === true;
    const stuck = anonymous ? undefined : this.stickyFor(input.userKey, requested, now);
    // Down again: the return, if one was under way, starts over at the next recovery.
    if (v.state === TierState.DOWN) this.restartRamp(requested);
    if (bad) {
      reasons.push(`${requested} is ${v.state === TierState.DOWN ? "down" : "degraded"} (${v.reason})`);
    }
    if (action === "promote") {
      const p = input.overBudget ? { why: input.overBudget } : this.promotionTarget(requested, input.maxTier);
      if (p.tier) {
        target = promotedTo = p.tier;
        reasons.push(`promoted to ${p.tier}`);
      } else {
        reasons.push(`not promoted: ${p.why}`);
      }
    }
    if (target === requested && (action === "fallback" || (action === "promote" && v.state === TierState.DOWN))) {
      const fb = this.fallbackTarget(requested, floor);
      if (fb) {
        target = fb;
        reasons.push(`served by fallback tier ${fb}`);
      } else {
        reasons.push(`no usable fallback down to ${floor}; trying ${requested} anyway`);
      }
    }
    if (target !== requested) {
      this.ramps.set(requested, { to: target, step: 0, stepSince: undefined, confirmed: false });
      if (!anonymous && routing.sticky_ms > 0 && stuck?.to !== target) {
        this.remember(input.userKey, { from: requested, to: target, until: now + routing.sticky_ms });
      }
    } else if (action === "stay") {
      // The requested tier serves again (a refused promotion or fallback does not count):
      // sticky users stay where they were moved until it is confirmed healthy; others come
      // back step by step. A user is only held on a tier inside their own plan's range, and
      // a hold above the requested tier takes promotion capacity like any promotion.
      // The return's clock runs on every request, held or not, so it starts when the tier leaves down.
      const ramped = this.rampHold(requested, input, v.state, now);
      const held = stuck ? { to: stuck.to, share: 0 } : ramped;
      const heldAbove = held !== undefined && this.ladder.above(held.to, requested);
      if (held && !(heldAbove && input.overBudget) && this.mayHold(held.to, requested, input.maxTier, floor)) {
        target = held.to;
        if (this.ladder.above(held.to, requested)) promotedTo = held.to;
        const pct = Math.round(held.share * 100);
        reasons.push(
          stuck
            ? `sticky: stays on ${stuck.to} until ${requested} is healthy again, at most until ${new Date(stuck.until).toISOString()} (moved from ${requested})`
            : anonymous
              ? `progressive return: ${requested} is back for ${pct}% of requests without a user id, not this one`
              : `progressive return: ${requested} is back for ${pct}% of users, not yet this one`,
        );
      }
    }
    let release = () => {};
    if (promotedTo !== undefined) {
      const t = promotedTo;
      this.promoted.set(t, this.promotedInFlight(t) + 1);
      let released = false;
      release = () => {
        if (released) return;
        released = true;
        this.promoted.set(t, this.promotedInFlight(t) - 1);
      };
    }
    return { tiers: this.chain(target, requested, floor), reasons, done: release };
  }

  /** Tiers after `target` to try in-request: the requested tier (after a promotion), then fallbacks down to the floor. */
  private chain(target: string, requested: string, floor: string): string[] {
    const out = [target];
    const add = (t: string) => {
      if (!out.includes(t) && this.ladder.rank(t) >= this.ladder.rank(floor)) out.push(t);
    };
    if (this.ladder.above(target, requested)) add(requested);
    const downs: string[] = [];
    for (let t = this.config.tiers[out.at(-1)!]!.fallback; t !== undefined; t = this.config.tiers[t]!.fallback) {
      if (this.ladder.rank(t) < this.ladder.rank(floor)) break;
      if (this.view(t).state === TierState.DOWN) downs.push(t);
      else add(t);
    }
    for (const t of downs) add(t);
    return out;
  }

  private mayHold(to: string, requested: string, maxTier: string, floor: string): boolean {
    if (this.ladder.above(to, maxTier) || this.ladder.above(floor, to)) return false;
    if (!this.ladder.above(to, requested)) return true;
    const routing = this.config.tiers[requested]!.routing;
    return this.promotedInFlight(to) < this.capacityShare(routing.promote_share, to);
  }

  private capacityShare(share: number, tier: string): number {
    // The epsilon keeps 0.29 × 100 from flooring to 28.
    return Math.floor(share * this.config.tiers[tier]!.bulkhead.max_concurrency + 1e-9);
  }

  private promotionTarget(tier: string, maxTier: string): { tier?: string; why: string } {
    const routing = this.config.tiers[tier]!.routing;
    const up = routing.promote_to ?? this.ladder.names[this.ladder.names.indexOf(tier) - 1];
    if (up === undefined) return { why: `${tier} is the highest tier` };
    if (this.ladder.above(up, maxTier)) return { why: `${up} is above the plan's entitlement ${maxTier}` };
    const state = this.view(up).state;
    if (state === TierState.DOWN || state === TierState.DEGRADED) return { why: `${up} is not healthy either` };
    const capacity = this.capacityShare(routing.promote_share, up);
    if (this.promotedInFlight(up) >= capacity) return { why: `${up}'s promotion share (${capacity} in flight) is used` };
    return { tier: up, why: "" };
  }

  private fallbackTarget(tier: string, floor: string): string | undefined {
    let firstDegraded: string | undefined;
    for (let t = this.config.tiers[tier]!.fallback; t !== undefined; t = this.config.tiers[t]!.fallback) {
      if (this.ladder.rank(t) < this.ladder.rank(floor)) break;
      const state = this.view(t).state;
      if (state === TierState.DOWN) continue;
      if (state !== TierState.DEGRADED) return t;
      firstDegraded ??= t;
    }
    return firstDegraded;
  }

  private stickyFor(userKey: string, from: string, now: number): Sticky | undefined {
    const s = this.sticky.get(userKey);
    if (!s || s.from !== from) return undefined;
    const state = this.view(s.to).state;
    // Stickiness ends when it expires, when the tier the user was moved from is confirmed
    // healthy (the user then returns with the others), or when the tier they sit on gets worse.
    if (s.until <= now || this.view(from).state === TierState.HEALTHY || state === TierState.DOWN || state === TierState.DEGRADED) {
      this.sticky.delete(userKey);
      return undefined;
    }
    return s;
  }

  private remember(userKey: string, s: Sticky): void {
    this.sticky.delete(userKey);
    this.sticky.set(userKey, s);
    if (this.sticky.size > MAX_STICKY_USERS) this.sticky.delete(this.sticky.keys().next().value!);
  }

  /** The tier is down again: a return under way starts over (first step, not yet confirmed) at the next recovery. */
  private restartRamp(tier: string): void {
    const ramp = this.ramps.get(tier);
    if (!ramp) return;
    ramp.step = 0;
    ramp.stepSince = undefined;
    ramp.confirmed = false;
  }

  /** While a tier's traffic returns step by step, whether this request is still held away, and the step's share. */
  private rampHold(tier: string, input: RouteInput, state: TierState, now: number): { to: string; share: number } | undefined {
    const ramp = this.ramps.get(tier);
    if (!ramp) return undefined;
    const { return_steps: steps, return_step_ms: stepMs } = this.config.tiers[tier]!.routing;
    if (state === TierState.HEALTHY) ramp.confirmed = true;
    // Steps advance while the tier recovers from down or is healthy (or unknown); degraded
    // again after being healthy is bad again: the return pauses at its step.
    if (state === TierState.DEGRADED && ramp.confirmed) {
      ramp.stepSince = undefined;
    } else {
      ramp.stepSince ??= now;
      const passed = Math.floor((now - ramp.stepSince) / stepMs);
      if (passed > 0) {
        ramp.step += passed;
        ramp.stepSince += passed * stepMs;
      }
    }
    if (ramp.step >= steps.length) {
      this.ramps.delete(tier);
      return undefined;
    }
    const share = steps[ramp.step]!;
    // Users by a stable hash (a returned user stays returned); requests without a user id by a draw each.
    const draw = input.anonymous === true ? this.random() : userFraction(input.userKey);
    if (draw < share || this.view(ramp.to).state === TierState.DOWN) return undefined;
    return { to: ramp.to, share };
  }

  private higher(a: string, b: string): string {
    return this.ladder.above(a, b) ? a : b;
  }
}

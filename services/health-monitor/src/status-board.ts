import { create } from "@bufbuild/protobuf";
import type { Config } from "@tiermesh/config";
import {
  DeploymentSliSchema,
  OutcomeStatus,
  TierSliSchema,
  TierState,
  TierStatusEventSchema,
  type DeploymentSli,
  type ExecutorLoad,
  type Outcome,
  type TierSli,
  type TierStatusEvent,
} from "@tiermesh/proto";
import { isTierFailure } from "./outcome-class.js";
import { SliWindow } from "./sli-window.js";
import { TierHealth } from "./tier-health.js";

/** Executors that have not reported for this long no longer count toward a tier's load. */
const LOAD_STALE_MS = 5_000;

interface DeploymentWindow {
  model: string;
  provider: string;
  window: SliWindow;
}

export interface StatusBoardOptions {
  monitorId: string;
  /** First sequence number; later events count up from it. */
  firstSequence: bigint;
  /** Last known status per tier (from the bucket), so a restarted monitor continues where it was. */
  previous?: readonly TierStatusEvent[];
}

/** The monitor's view of every tier; turns outcomes into tier-status events. */
export class StatusBoard {
  private readonly tiers = new Map<string, TierHealth>();
  private readonly deployments = new Map<string, Map<string, DeploymentWindow>>();
  private readonly loads = new Map<string, Map<string, { load: ExecutorLoad; at: number }>>();
  private readonly windowMs = new Map<string, number>();
  /** Per tier, each deployment's latest word: whether its last attempt or probe succeeded, and when. */
  private readonly latest = new Map<string, Map<string, { ok: boolean; at: number }>>();
  private sequence: bigint;

  constructor(
    config: Config,
    private readonly options: StatusBoardOptions,
  ) {
    this.sequence = options.firstSequence;
    const known = new Map((options.previous ?? []).map((e) => [e.tier, e]));
    for (const [name, tier] of Object.entries(config.tiers)) {
      const last = known.get(name);
      const initial =
        last && last.state !== TierState.UNSPECIFIED
          ? { state: last.state, sinceMs: Number(last.sinceMs), reason: `${last.reason} (carried over)` }
          : undefined;
      this.tiers.set(name, new TierHealth(name, tier.slo, initial));
      this.deployments.set(name, new Map());
      this.loads.set(name, new Map());
      this.windowMs.set(name, tier.slo.window_ms);
      this.latest.set(name, new Map());
    }
  }

  record(outcome: Outcome, now: number): void {
    const health = this.tiers.get(outcome.tier);
    if (!health) return;
    health.record(outcome, now, this.tierWide(outcome, now));
    if (outcome.deployment === "") return;
    const byDeployment = this.deployments.get(outcome.tier)!;
    let d = byDeployment.get(outcome.deployment);
    if (!d) {
      d = { model: outcome.model, provider: outcome.provider, window: new SliWindow(this.windowMs.get(outcome.tier)!) };
      byDeployment.set(outcome.deployment, d);
    }
    d.window.record(outcome, now);
  }

  /**
   * Whether a failure speaks for the whole tier. One deployment failing while another of the
   * tier still serves (its latest word, within the tier's window, is a success) is that
   * deployment's trouble: the executor's breaker and retries keep the tier's users on the
   * healthy one, so the failure shows in the deployment's SLIs, not the tier's. Only when no
   * other deployment is known to serve does it count against the tier. This also keeps a
   * burst of stalls (one per waiting attempt, all at once) from one deployment from reading
   * as a run of tier failures.
   */
  private tierWide(outcome: Outcome, now: number): boolean {
    if (outcome.deployment === "") return true;
    const words = this.latest.get(outcome.tier)!;
    if (outcome.status === OutcomeStatus.OK) {
      words.set(outcome.deployment, { ok: true, at: now });
      return true;
    }
    if (!isTierFailure(outcome.status)) return true;
    words.set(outcome.deployment, { ok: false, at: now });
    const windowMs = this.windowMs.get(outcome.tier)!;
    for (const [deployment, word] of words) {
      if (deployment !== outcome.deployment && word.ok && now - word.at <= windowMs) return false;
    }
    return true;
  }

  /** The latest load an executor of `tier` reported. */
  recordLoad(tier: string, executorId: string, load: ExecutorLoad, now: number): void {
    this.loads.get(tier)?.set(executorId, { load, at: now });
  }

  /** Makes the next event's sequence at least `min` (a new leader continuing an old one's sequence). */
  continueFrom(min: bigint): void {
    if (this.sequence < min) this.sequence = min;
  }

  /** Evaluates every tier; returns one event per tier whose state changed. */
  evaluate(now: number): TierStatusEvent[] {
    const changed: TierStatusEvent[] = [];
    for (const health of this.tiers.values()) {
      const t = health.evaluate(now);
      if (t) changed.push(this.event(health, now, t.previous));
    }
    return changed;
  }

  /** True while a tier is down or degraded since leaving down: the prober then probes it often. */
  recovering(tier: string): boolean {
    return this.tiers.get(tier)?.recovering ?? false;
  }

  /** Each tier's state, without producing an event. */
  snapshotStates(): { tier: string; state: TierState }[] {
    return [...this.tiers.values()].map((h) => ({ tier: h.tier, state: h.state }));
  }

  /** Each tier's SLIs over its window now, without producing an event. */
  tierSlis(now: number): { tier: string; sli: TierSli }[] {
    return [...this.tiers.values()].map((h) => ({ tier: h.tier, sli: h.sli(now) }));
  }

  /** A fresh event with the current state of every tier (heartbeat, GetStatus). */
  snapshot(now: number): TierStatusEvent[] {
    return [...this.tiers.values()].map((h) => this.event(h, now, h.state));
  }

  /** Each tier's SLIs and load now, without producing an event (the console samples them). */
  slis(now: number): Map<string, TierSli> {
    return new Map([...this.tiers.values()].map((h) => [h.tier, this.tierSli(h, now)]));
  }

  private event(h: TierHealth, now: number, previous: TierState): TierStatusEvent {
    this.sequence += 1n;
    const deployments: DeploymentSli[] = [...this.deployments.get(h.tier)!].map(([deployment, d]) =>
      create(DeploymentSliSchema, { deployment, model: d.model, provider: d.provider, sli: create(TierSliSchema, d.window.sli(now)) }),
    );
    return create(TierStatusEventSchema, {
      tier: h.tier,
      state: h.state,
      previousState: previous,
      sli: this.tierSli(h, now),
      deployments,
      reason: h.reason,
      sequence: this.sequence,
      atMs: BigInt(now),
      sinceMs: BigInt(h.sinceMs),
      monitorId: this.options.monitorId,
    });
  }

  /** The tier's SLIs with its load, summed over the executors that reported lately. */
  private tierSli(h: TierHealth, now: number): TierSli {
    let inFlight = 0;
    let queued = 0;
    let capacity = 0;
    let executors = 0;
    for (const [id, { load, at }] of this.loads.get(h.tier)!) {
      if (now - at > LOAD_STALE_MS) {
        this.loads.get(h.tier)!.delete(id);
        continue;
      }
      inFlight += load.inFlight;
      queued += load.queued;
      capacity += load.capacity;
      executors++;
    }
    return create(TierSliSchema, { ...h.sli(now), inFlight, queued, capacity, executors });
  }
}

import { dayOf, monthOf } from "./periods.js";
import type { PeriodSpend } from "./spend-view.js";

interface InFlight {
  tenant: string;
  atMs: number;
  usd: number;
}

interface Unaggregated {
  tenant: string;
  atMs: number;
  usd: number;
  /** Aggregate key the record counts under. */
  key: string;
  /** Stream sequence once stored. */
  sequence?: bigint;
  /** When the aggregates were first seen to hold it. */
  seenAt?: number;
}

/**
 * What this router has spent that the shared aggregates do not show yet: estimates of its
 * requests in flight, then the cost of each finished request until the aggregates have applied
 * its record (plus a grace, so other routers' views of the aggregates catch up first).
 */
export class OwnSpend {
  private readonly inFlight = new Map<string, InFlight>();
  private readonly unaggregated = new Map<string, Unaggregated>();

  constructor(private readonly graceMs = 2_000) {}

  begin(id: string, tenant: string, estimateUsd: number, atMs = Date.now()): void {
    this.inFlight.set(id, { tenant, atMs, usd: estimateUsd });
  }

  /** The request is over: its estimate gives way to its cost, counted until the aggregates hold it. */
  finish(id: string, key: string, costUsd: number, atMs = Date.now()): void {
    const f = this.inFlight.get(id);
    this.inFlight.delete(id);
    if (f && costUsd > 0) this.unaggregated.set(id, { tenant: f.tenant, atMs, usd: costUsd, key });
  }

  /** Drops an estimate without cost (the request never reached a tier). */
  cancel(id: string): void {
    this.inFlight.delete(id);
  }

  /** The record of `id` was stored at `sequence`. */
  stored(id: string, sequence: number): void {
    const u = this.unaggregated.get(id);
    if (u) u.sequence = BigInt(sequence);
  }

  /** Forgets costs the aggregates hold (by `appliedFor`) since at least the grace. Returns the tenants that changed. */
  settle(appliedFor: (key: string) => bigint, now = Date.now()): Set<string> {
    const changed = new Set<string>();
    for (const [id, u] of this.unaggregated) {
      if (u.sequence === undefined || appliedFor(u.key) < u.sequence) continue;
      u.seenAt ??= now;
      if (now - u.seenAt >= this.graceMs) {
        this.unaggregated.delete(id);
        changed.add(u.tenant);
      }
    }
    return changed;
  }

  /** This router's spend for the tenant not in the aggregates, in the month and day of `nowMs`. */
  spend(tenant: string, nowMs = Date.now()): PeriodSpend {
    const month = monthOf(nowMs);
    const day = dayOf(nowMs);
    let monthUsd = 0;
    let dayUsd = 0;
    for (const e of [...this.inFlight.values(), ...this.unaggregated.values()]) {
      if (e.tenant !== tenant || monthOf(e.atMs) !== month) continue;
      monthUsd += e.usd;
      if (dayOf(e.atMs) === day) dayUsd += e.usd;
    }
    return { monthUsd, dayUsd };
  }

  /** Tenants this router holds anything for. */
  tenants(): Set<string> {
    return new Set([...this.inFlight.values(), ...this.unaggregated.values()].map((e) => e.tenant));
  }
}

import { periodsAt } from "./periods.js";
import type { PeriodSpend } from "./spend-view.js";

interface Entry {
  tenant: string;
  atMs: number;
  usd: number;
  /** Finished: the aggregate key its record counts under. */
  key?: string;
  /** Ledger position of its record once stored (see `ledgerPosition`). */
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
  /** Per tenant, its entries by request id. */
  private readonly byTenant = new Map<string, Map<string, Entry>>();
  private readonly tenantOf = new Map<string, string>();

  constructor(private readonly graceMs = 2_000) {}

  begin(id: string, tenant: string, estimateUsd: number, atMs = Date.now()): void {
    const entries = this.byTenant.get(tenant) ?? new Map<string, Entry>();
    entries.set(id, { tenant, atMs, usd: estimateUsd });
    this.byTenant.set(tenant, entries);
    this.tenantOf.set(id, tenant);
  }

  /** The request is over: its estimate gives way to its cost, counted until the aggregates hold it. */
  finish(id: string, key: string, costUsd: number, atMs = Date.now()): void {
    const e = this.entry(id);
    if (!e) return;
    if (costUsd <= 0) return this.cancel(id);
    Object.assign(e, { atMs, usd: costUsd, key });
  }

  /** Drops a request's estimate without cost (it never reached a tier). */
  cancel(id: string): void {
    const tenant = this.tenantOf.get(id);
    if (tenant === undefined) return;
    this.tenantOf.delete(id);
    const entries = this.byTenant.get(tenant)!;
    entries.delete(id);
    if (entries.size === 0) this.byTenant.delete(tenant);
  }

  /** The record of `id` was stored at `position` (see `ledgerPosition`). */
  stored(id: string, position: bigint): void {
    const e = this.entry(id);
    if (e?.key !== undefined) e.sequence = position;
  }

  /** Forgets costs the aggregates hold (by `appliedFor`) since at least the grace. Returns the tenants that changed. */
  settle(appliedFor: (key: string) => bigint, now = Date.now()): Set<string> {
    const changed = new Set<string>();
    for (const [tenant, entries] of this.byTenant) {
      for (const [id, e] of entries) {
        if (e.key === undefined || e.sequence === undefined || appliedFor(e.key) < e.sequence) continue;
        e.seenAt ??= now;
        if (now - e.seenAt < this.graceMs) continue;
        this.cancel(id);
        changed.add(tenant);
      }
    }
    return changed;
  }

  /** This router's spend for the tenant not in the aggregates, in the month and day of `nowMs`. */
  spend(tenant: string, nowMs = Date.now()): PeriodSpend {
    const { month, day } = periodsAt(nowMs);
    let monthUsd = 0;
    let dayUsd = 0;
    for (const e of this.byTenant.get(tenant)?.values() ?? []) {
      if (e.atMs < month[0] || e.atMs >= month[1]) continue;
      monthUsd += e.usd;
      if (e.atMs >= day[0] && e.atMs < day[1]) dayUsd += e.usd;
    }
    return { monthUsd, dayUsd };
  }

  /** Tenants this router holds anything for. */
  tenants(): Set<string> {
    return new Set(this.byTenant.keys());
  }

  private entry(id: string): Entry | undefined {
    const tenant = this.tenantOf.get(id);
    return tenant === undefined ? undefined : this.byTenant.get(tenant)?.get(id);
  }
}

import { create } from "@bufbuild/protobuf";
import { Kvm, type KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { BudgetHoldSchema, BudgetHoldsSchema, type BudgetHolds } from "@tiermesh/proto";
import { dayOf, monthOf } from "./periods.js";
import type { PeriodSpend } from "./spend-view.js";
import { decodeHolds, encodeHolds } from "./usage-codec.js";

/** Opens (creating if needed) the bucket of budget holds. */
export function openHolds(nc: NatsConnection, bucket: string): Promise<KV> {
  return new Kvm(nc).create(bucket, { history: 1 });
}

const MAX_TRIES = 50;

/**
 * The shared counter budgets are reserved against: one entry per tenant holding every
 * router's hold (its requests in flight at their estimated cost, and its finished ones the
 * aggregates do not count yet). A router changes only its own hold, always by compare-and-set
 * on the entry's revision, so two routers deciding at once for the same tenant see each
 * other's reservation: the second decision is taken again on the new entry.
 */
export class BudgetHoldBoard {
  constructor(
    private readonly kv: KV,
    private readonly routerId: string,
    private readonly ttlMs: number,
  ) {}

  /**
   * Reads the tenant's entry, asks `decide` with the other routers' holds (fresh ones of this
   * month and day) for this router's new hold, and writes it; `decide` returning undefined
   * writes nothing. Taken again on a conflicting write. Returns what `decide` last returned.
   */
  async reserve<T extends { hold: PeriodSpend } | undefined>(
    tenant: string,
    decide: (others: PeriodSpend) => T,
    nowMs = Date.now(),
  ): Promise<T> {
    for (let i = 0; i < MAX_TRIES; i++) {
      const entry = await this.kv.get(tenant);
      const holds = entry && entry.operation === "PUT" && entry.value.length > 0 ? decodeHolds(entry.value) : create(BudgetHoldsSchema);
      const decision = decide(this.others(holds, nowMs));
      if (decision === undefined) return decision;
      this.setMine(holds, decision.hold, nowMs);
      try {
        if (entry && entry.revision > 0) await this.kv.update(tenant, encodeHolds(holds), entry.revision);
        else await this.kv.create(tenant, encodeHolds(holds));
        return decision;
      } catch (cause) {
        if (!(cause instanceof Error && /wrong last sequence|key exists/i.test(cause.message))) throw cause;
      }
    }
    throw new Error(`budget holds of ${tenant}: too many concurrent writes`);
  }

  /** Writes this router's current hold for the tenant (smaller after requests end). */
  async refresh(tenant: string, hold: PeriodSpend, nowMs = Date.now()): Promise<void> {
    await this.reserve(tenant, () => ({ hold }), nowMs);
  }

  /** The other routers' holds on the tenant, as last read. */
  private others(holds: BudgetHolds, nowMs: number): PeriodSpend {
    const month = monthOf(nowMs);
    const day = dayOf(nowMs);
    let monthUsd = 0;
    let dayUsd = 0;
    for (const [id, h] of Object.entries(holds.routers)) {
      if (id === this.routerId || nowMs - Number(h.atMs) > this.ttlMs) continue;
      if (h.month === month) monthUsd += h.monthUsd;
      if (h.day === day) dayUsd += h.dayUsd;
    }
    return { monthUsd, dayUsd };
  }

  private setMine(holds: BudgetHolds, hold: PeriodSpend, nowMs: number): void {
    // Stale holds of routers long gone are dropped as the entry is rewritten.
    for (const [id, h] of Object.entries(holds.routers)) if (nowMs - Number(h.atMs) > this.ttlMs) delete holds.routers[id];
    if (hold.monthUsd <= 0 && hold.dayUsd <= 0) delete holds.routers[this.routerId];
    else
      holds.routers[this.routerId] = create(BudgetHoldSchema, {
        month: monthOf(nowMs),
        day: dayOf(nowMs),
        monthUsd: hold.monthUsd,
        dayUsd: hold.dayUsd,
        atMs: BigInt(nowMs),
      });
  }
}

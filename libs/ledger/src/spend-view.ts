import type { KV } from "@nats-io/kv";
import { parseAggregateKey } from "./ledger-names.js";
import { periodsAt } from "./periods.js";
import { decodeAggregate } from "./usage-codec.js";

interface KeySpend {
  hourMs: number;
  costUsd: number;
  applied: bigint;
}

/** Month-to-date and day-to-date spend of one tenant. */
export interface PeriodSpend {
  monthUsd: number;
  dayUsd: number;
}

const DAY_MS = 86_400_000;

/**
 * Every tenant's spend as the aggregates bucket holds it, kept current by a watch (updates
 * arrive as the aggregator writes them), with the stream sequence each aggregate has applied,
 * so a router can tell which of its own records the aggregates already count.
 */
export class SpendView {
  /** Per tenant, its aggregates by key. */
  private readonly tenants = new Map<string, Map<string, KeySpend>>();
  private stopWatch: (() => void) | undefined;
  private synced = false;

  /** A watch is set up (its current values arrive right after). */
  get ready(): boolean {
    return this.synced;
  }

  /** Follows `kv` from now on (all current values first); replaces an earlier watch. */
  async watch(kv: KV, onError?: (err: unknown) => void): Promise<void> {
    this.stopWatch?.();
    const iter = await kv.watch({ key: ">" });
    this.stopWatch = () => iter.stop();
    this.synced = true;
    void (async () => {
      try {
        for await (const e of iter) {
          if (e.operation === "PUT" && e.value.length > 0) this.apply(e.key, e.value);
          else this.remove(e.key);
        }
      } catch (err) {
        onError?.(err);
      }
    })();
  }

  stop(): void {
    this.stopWatch?.();
    this.stopWatch = undefined;
  }

  /** Applies one aggregate value (the watch does; tests may too). */
  apply(key: string, value: Uint8Array): void {
    const parts = parseAggregateKey(key);
    // Hours before last month no longer count against any budget.
    if (!parts || parts.hourMs < Date.now() - 62 * DAY_MS) return;
    try {
      const a = decodeAggregate(value);
      const keys = this.tenants.get(parts.tenant) ?? new Map<string, KeySpend>();
      keys.set(key, { hourMs: parts.hourMs, costUsd: a.costUsd, applied: a.appliedSequence });
      this.tenants.set(parts.tenant, keys);
    } catch {
      // An unreadable value counts as none until the next write replaces it.
    }
  }

  private remove(key: string): void {
    const parts = parseAggregateKey(key);
    if (parts) this.tenants.get(parts.tenant)?.delete(key);
  }

  /** The highest ledger sequence the aggregate under `key` has applied (0n: none). */
  appliedFor(key: string): bigint {
    const parts = parseAggregateKey(key);
    return (parts && this.tenants.get(parts.tenant)?.get(key)?.applied) ?? 0n;
  }

  /** The tenant's spend in the month and day holding `nowMs`, from the aggregates. */
  spend(tenant: string, nowMs = Date.now()): PeriodSpend {
    const { month, day } = periodsAt(nowMs);
    let monthUsd = 0;
    let dayUsd = 0;
    for (const k of this.tenants.get(tenant)?.values() ?? []) {
      if (k.hourMs < month[0] || k.hourMs >= month[1]) continue;
      monthUsd += k.costUsd;
      if (k.hourMs >= day[0] && k.hourMs < day[1]) dayUsd += k.costUsd;
    }
    return { monthUsd, dayUsd };
  }
}

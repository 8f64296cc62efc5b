import { tenantBudget, type Config } from "@tiermesh/config";
import { dayOf, monthOf, type BudgetHoldBoard, type OwnSpend, type PeriodSpend, type SpendView } from "@tiermesh/ledger";
import { budgetVerdict, type BudgetVerdict } from "./budget-verdict.js";

interface GuardLogger {
  warn(obj: object, msg: string): void;
}

export interface BudgetGuardDeps {
  config: () => Pick<Config, "plans" | "tenants">;
  /** Spend in the shared aggregates (watched). */
  view: SpendView;
  /** This router's spend the aggregates do not show yet. */
  own: OwnSpend;
  /** The shared holds; undefined while NATS is away. */
  holds: () => BudgetHoldBoard | undefined;
  logger: GuardLogger;
  /** Longest wait for a reservation before deciding on this router's view alone. */
  reserveTimeoutMs?: number;
  /** A router's hold not refreshed for this long is ignored by others; refreshed every third of it. */
  holdTtlMs: number;
}

const add = (a: PeriodSpend, b: PeriodSpend): PeriodSpend => ({ monthUsd: a.monthUsd + b.monthUsd, dayUsd: a.dayUsd + b.dayUsd });
const SYNC_MS = 250;

/**
 * Keeps tenants within their budgets across router replicas. A request's estimated cost is
 * reserved before any tier is called: this router's hold on the tenant (its requests in flight
 * at their estimates, its finished requests not yet aggregated at their cost) is written into
 * the tenant's shared holds entry by compare-and-set, and the verdict is taken on
 *   aggregates (watched) + every other router's hold + this router's hold,
 * read in that same compare-and-set. Two routers racing for the last of a budget therefore
 * decide one after the other: the second sees the first's reservation. What remains is the
 * difference between an estimate and the true cost, and requests admitted while spend was
 * below 100%: spend passes the budget by less than one request per router (see README).
 */
export class BudgetGuard {
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly dirty = new Set<string>();
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: BudgetGuardDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Month-to-date spend of the tenant as this router knows it (aggregates + own). */
  spentUsd(tenant: string, now = Date.now()): number {
    return this.deps.view.spend(tenant, now).monthUsd + this.deps.own.spend(tenant, now).monthUsd;
  }

  /**
   * Reserves `estimate()` for request `id` and says what the tenant's budget allows;
   * undefined when the tenant has no budget. A refused request holds nothing.
   */
  async admit(id: string, tenant: string, estimate: () => number, now = Date.now()): Promise<BudgetVerdict | undefined> {
    const budget = tenantBudget(this.deps.config(), tenant);
    if (!budget) return undefined;
    const estimateUsd = estimate();
    const { view, own } = this.deps;
    const period = { month: monthOf(now), day: dayOf(now) };
    return await this.serialize(tenant, async () => {
      own.begin(id, tenant, estimateUsd, now);
      // Spend before this request: what the aggregates show and what this router holds, less this request's estimate.
      const before = (others: PeriodSpend) => add(add(view.spend(tenant, now), others), add(own.spend(tenant, now), { monthUsd: -estimateUsd, dayUsd: -estimateUsd }));
      let verdict: BudgetVerdict | undefined;
      const board = this.deps.holds();
      if (board) {
        try {
          const reserved = board.reserve(
            tenant,
            (others) => {
              verdict = budgetVerdict(budget, before(others), period);
              return verdict.refuse ? undefined : { hold: own.spend(tenant, now) };
            },
            now,
          );
          await withTimeout(reserved, this.deps.reserveTimeoutMs ?? 1_000);
          this.written.set(tenant, Date.now());
        } catch (err) {
          this.deps.logger.warn({ err, tenant }, "budget reservation failed; deciding on this router's view");
          verdict = undefined;
        }
      }
      verdict ??= budgetVerdict(budget, before({ monthUsd: 0, dayUsd: 0 }), period);
      if (verdict.refuse) own.cancel(id);
      return verdict;
    });
  }

  /** Request `id` is over: its estimate gives way to its cost (held until the aggregates count it). */
  finish(id: string, tenant: string, key: string, costUsd: number): void {
    this.deps.own.finish(id, key, costUsd);
    this.dirty.add(tenant);
  }

  /** Request `id` ended without a record (nothing reached a tier): its estimate is released. */
  release(id: string, tenant: string): void {
    this.deps.own.cancel(id);
    this.dirty.add(tenant);
  }

  /** Settles what the aggregates now count and writes changed holds. */
  async sync(now = Date.now()): Promise<void> {
    const { own, view } = this.deps;
    for (const t of own.settle((key) => view.appliedFor(key), now)) this.dirty.add(t);
    const board = this.deps.holds();
    if (!board) return;
    for (const t of own.tenants()) if (now - (this.written.get(t) ?? 0) > this.deps.holdTtlMs / 3) this.dirty.add(t);
    const tenants = [...this.dirty];
    this.dirty.clear();
    await Promise.all(
      tenants.map((tenant) =>
        this.serialize(tenant, async () => {
          try {
            await withTimeout(board.refresh(tenant, own.spend(tenant)), 2_000);
            this.written.set(tenant, Date.now());
          } catch {
            this.dirty.add(tenant);
          }
        }),
      ),
    );
  }

  /** Runs `fn` after every earlier call for the same tenant (one reservation at a time per tenant here). */
  private serialize<T>(tenant: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(tenant) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(tenant, tail);
    void tail.then(() => {
      if (this.locks.get(tenant) === tail) this.locks.delete(tenant);
    });
    return next;
  }
}

async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

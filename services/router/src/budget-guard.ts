import { tenantBudget, type Config, type TenantBudget } from "@tiermesh/config";
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

interface Waiting {
  id: string;
  estimateUsd: number;
  budget: TenantBudget;
  resolve: (verdict: BudgetVerdict) => void;
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
  private readonly waiting = new Map<string, Waiting[]>();
  private readonly dirty = new Set<string>();
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private local = 0;

  constructor(private readonly deps: BudgetGuardDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.sync(), SYNC_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Batches decided on this router's view alone, because the shared holds did not answer. */
  get localDecisions(): number {
    return this.local;
  }

  /** Month-to-date spend of the tenant as this router knows it (aggregates + own). */
  spentUsd(tenant: string, now = Date.now()): number {
    return this.deps.view.spend(tenant, now).monthUsd + this.deps.own.spend(tenant, now).monthUsd;
  }

  /**
   * Reserves `estimate()` for request `id` and says what the tenant's budget allows;
   * undefined when the tenant has no budget. A refused request holds nothing. Requests of one
   * tenant that arrive while a reservation for it is being written are decided together, in
   * arrival order, in the next write: one compare-and-set per batch, not per request.
   */
  async admit(id: string, tenant: string, estimate: () => number): Promise<BudgetVerdict | undefined> {
    const budget = tenantBudget(this.deps.config(), tenant);
    if (!budget) return undefined;
    const estimateUsd = estimate();
    return await new Promise<BudgetVerdict>((resolve) => {
      const queue = this.waiting.get(tenant) ?? [];
      queue.push({ id, estimateUsd, budget, resolve });
      this.waiting.set(tenant, queue);
      if (queue.length === 1) void this.serialize(tenant, () => this.decideWaiting(tenant));
    });
  }

  /** Decides every request waiting for the tenant, in one reservation. */
  private async decideWaiting(tenant: string): Promise<void> {
    const batch = this.waiting.get(tenant) ?? [];
    this.waiting.delete(tenant);
    if (batch.length === 0) return;
    const { view, own } = this.deps;
    const now = Date.now();
    const period = { month: monthOf(now), day: dayOf(now) };
    for (const w of batch) own.begin(w.id, tenant, w.estimateUsd, now);
    const batchUsd = batch.reduce((sum, w) => sum + w.estimateUsd, 0);
    // In arrival order, each on the spend before it: aggregates, other routers, this router
    // (less the batch), and the estimates of the batch's requests admitted before it.
    const decide = (others: PeriodSpend) => {
      let spent = add(add(view.spend(tenant, now), others), add(own.spend(tenant, now), { monthUsd: -batchUsd, dayUsd: -batchUsd }));
      let refusedUsd = 0;
      const verdicts = batch.map((w) => {
        const v = budgetVerdict(w.budget, spent, period);
        if (v.refuse) refusedUsd += w.estimateUsd;
        else spent = add(spent, { monthUsd: w.estimateUsd, dayUsd: w.estimateUsd });
        return v;
      });
      const hold = add(own.spend(tenant, now), { monthUsd: -refusedUsd, dayUsd: -refusedUsd });
      return { verdicts, hold, anyAdmitted: refusedUsd < batchUsd || batchUsd === 0 };
    };
    let decided: ReturnType<typeof decide> | undefined;
    const board = this.deps.holds();
    if (board) {
      try {
        await withTimeout(
          board.reserve(
            tenant,
            (others) => {
              decided = decide(others);
              return decided.anyAdmitted ? decided : undefined;
            },
            now,
          ),
          this.deps.reserveTimeoutMs ?? 1_000,
        );
        this.written.set(tenant, Date.now());
      } catch (err) {
        this.deps.logger.warn({ err, tenant }, "budget reservation failed; deciding on this router's view");
        decided = undefined;
      }
    }
    if (!decided) {
      this.local++;
      decided = decide({ monthUsd: 0, dayUsd: 0 });
    }
    batch.forEach((w, i) => {
      const verdict = decided!.verdicts[i]!;
      if (verdict.refuse) own.cancel(w.id);
      w.resolve(verdict);
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
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms))),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

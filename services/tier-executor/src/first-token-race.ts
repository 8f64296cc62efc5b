/** An attempt that can be raced: its text generator and the means to cancel it. */
export interface RacedAttempt<T, R> {
  run: AsyncGenerator<T, R>;
  cancel: (why: string) => void;
  /** performance.now() when the attempt started. */
  startedAt: number;
  /** What the attempt runs on (a deployment id). */
  label?: string;
}

export interface RaceWinner<T, R> {
  attempt: RacedAttempt<T, R>;
  /** The winner's first step (a first token, or its result when it produced no text). */
  first: IteratorResult<T, R>;
  /** True when a hedge was started. */
  hedged: boolean;
}

/**
 * Hedging: runs `primary`; if it has produced nothing after `hedgeAfterMs`, starts a second
 * attempt (if `startHedge` gives one) and keeps whichever produces its first step first.
 * The loser is cancelled. A failed attempt leaves the other to finish; only when every
 * started attempt failed does this reject, with the last error and the number of failures.
 */
export async function raceFirstToken<T, R>(
  primary: RacedAttempt<T, R>,
  hedgeAfterMs: number | undefined,
  startHedge: () => RacedAttempt<T, R> | undefined,
): Promise<RaceWinner<T, R>> {
  type Settled = { index: number; ok: true; step: IteratorResult<T, R> } | { index: number; ok: false; error: unknown };
  const attempts: RacedAttempt<T, R>[] = [primary];
  const pending = new Map<number, Promise<Settled>>();
  const watch = (index: number) =>
    pending.set(
      index,
      attempts[index]!.run.next().then(
        (step): Settled => ({ index, ok: true, step }),
        (error: unknown): Settled => ({ index, ok: false, error }),
      ),
    );
  watch(0);
  let timer: NodeJS.Timeout | undefined;
  let hedgeDue: Promise<"hedge"> | undefined =
    hedgeAfterMs === undefined ? undefined : new Promise((resolve) => (timer = setTimeout(() => resolve("hedge"), hedgeAfterMs)));
  const failures: unknown[] = [];
  try {
    for (;;) {
      const settled = await Promise.race<Settled | "hedge">([...pending.values(), ...(hedgeDue ? [hedgeDue] : [])]);
      if (settled === "hedge") {
        hedgeDue = undefined;
        const hedge = startHedge();
        if (hedge) {
          attempts.push(hedge);
          watch(attempts.length - 1);
        }
        continue;
      }
      pending.delete(settled.index);
      if (settled.ok) {
        for (const [index] of pending) attempts[index]!.cancel("lost the hedge race");
        return { attempt: attempts[settled.index]!, first: settled.step, hedged: attempts.length > 1 };
      }
      failures.push(settled.error);
      // Nothing left running (a primary that failed before the hedge was due ends it too:
      // the retry loop, not the hedge timer, decides what happens next).
      if (pending.size === 0) throw new RaceFailure(failures);
    }
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Every raced attempt failed. */
export class RaceFailure extends Error {
  override readonly name = "RaceFailure";
  constructor(readonly errors: readonly unknown[]) {
    super(`${errors.length} attempt(s) failed`, { cause: errors[errors.length - 1] });
  }

  get last(): unknown {
    return this.errors[this.errors.length - 1];
  }
}

/**
 * Awaits `race` (a first-token race); if `notice` settles first, yields its value once and
 * keeps awaiting. When the consumer stops early (or the race fails), `abandon` is called so
 * attempts still running are cancelled.
 */
export async function* raceWithNotice<W, N>(race: Promise<W>, notice: Promise<N>, abandon: () => void): AsyncGenerator<N, W> {
  let finished = false;
  try {
    const first = await Promise.race([race.then((w) => ({ w })), notice.then((n) => ({ n }))]);
    if ("n" in first) yield first.n;
    const winner = await race;
    finished = true;
    return winner;
  } finally {
    if (!finished) abandon();
  }
}

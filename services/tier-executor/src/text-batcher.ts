/**
 * Re-yields `source`, joining text events that arrive within `flushMs` of a text event
 * already waiting into one, so a stream of tokens leaves as a few messages instead of one
 * per token. The first text event and every other kind of event go out at once (other
 * events flush the text waiting before them, so order is kept; so does a failure of the
 * source, which is then rethrown). `flushMs` 0 passes everything through. The source's
 * return value is returned.
 */
export async function* batchText<E extends { type: string }, R>(
  source: AsyncGenerator<E, R>,
  flushMs: number,
  isText: (e: E) => e is E & { text: string },
  withText: (e: E & { text: string }, text: string) => E,
): AsyncGenerator<E, R> {
  if (flushMs <= 0) return yield* source;
  let waiting: (E & { text: string }) | undefined;
  let text = "";
  let flushAt = 0;
  let sentFirst = false;
  let next: Promise<IteratorResult<E, R>> | undefined;
  const take = () => {
    const e = withText(waiting!, text);
    waiting = undefined;
    text = "";
    return e;
  };
  try {
    for (;;) {
      next ??= source.next();
      let step: IteratorResult<E, R> | undefined;
      try {
        if (waiting === undefined) {
          step = await next;
        } else {
          const left = flushAt - performance.now();
          step = left <= 0 ? undefined : await within(next, left);
        }
      } catch (cause) {
        // The source failed: the text already produced still goes out, before the failure.
        next = undefined;
        if (waiting) yield take();
        throw cause;
      }
      if (step === undefined) {
        yield take();
        continue;
      }
      next = undefined;
      if (step.done) {
        if (waiting) yield take();
        return step.value;
      }
      const e = step.value;
      if (!isText(e)) {
        if (waiting) yield take();
        yield e;
      } else if (!sentFirst) {
        sentFirst = true;
        yield e;
      } else if (waiting === undefined) {
        waiting = e;
        text = e.text;
        flushAt = performance.now() + flushMs;
      } else {
        text += e.text;
      }
    }
  } finally {
    // Abandoned early (the caller went away): close the source too.
    if (next === undefined) await source.return(undefined as R);
    else void next.then(() => source.return(undefined as R)).catch(() => undefined);
  }
}

/** `p`'s result, or undefined when `ms` pass first (`p` stays pending for the next call). */
function within<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]).finally(() =>
    clearTimeout(timer),
  );
}

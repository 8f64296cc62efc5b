/**
 * Book-keeping a request owes but its caller need not wait for: metrics, usage records, outcome
 * reports. Work queued here runs in one `setImmediate`, that is after the I/O callbacks of the
 * current event-loop turn, which write the answers that queued it. A request's latency then
 * holds only what its answer needs; the book-keeping of every answer of a turn runs together
 * right after, in the same order as queued. A throw from one piece of work is reported and
 * does not stop the others.
 */
let queue: (() => void)[] = [];
let scheduled = false;
let onError: (err: unknown) => void = (err) => process.emitWarning(err instanceof Error ? err : new Error(String(err)));

export function afterReply(work: () => void): void {
  queue.push(work);
  if (scheduled) return;
  scheduled = true;
  setImmediate(runQueued);
}

/** Resolves once the work queued so far has run (before a graceful stop flushes what it fed). */
export function afterReplyIdle(): Promise<void> {
  return queue.length === 0 ? Promise.resolve() : new Promise((resolve) => afterReply(resolve));
}

/** Where a failure of queued work is reported (a service's logger); by default a process warning. */
export function onAfterReplyError(handler: (err: unknown) => void): void {
  onError = handler;
}

function runQueued(): void {
  const work = queue;
  // A new array rather than `length = 0`: work queued while this runs waits for the next turn.
  queue = [];
  scheduled = false;
  for (let i = 0; i < work.length; i++) {
    try {
      work[i]!();
    } catch (err) {
      onError(err);
    }
  }
}

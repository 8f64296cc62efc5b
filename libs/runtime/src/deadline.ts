/** Milliseconds left until `deadline` (epoch ms), never negative. */
export function remainingMs(deadline: number, now = Date.now()): number {
  return Math.max(0, deadline - now);
}

/** The absolute deadline of a call: the caller's timeout if given, else `fallbackMs` from now. */
export function deadlineFrom(timeoutMs: number | undefined, fallbackMs: number, now = Date.now()): number {
  return now + (timeoutMs !== undefined && timeoutMs > 0 ? Math.min(timeoutMs, fallbackMs) : fallbackMs);
}

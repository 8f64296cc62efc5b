/** setTimeout cannot wait longer than this; longer delays are clamped. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * Waits `ms` milliseconds with a single timer, or not at all when `ms <= 0`.
 * Resolves `true` when the wait completed and `false` when `signal` aborted
 * (the timer is cleared, so nothing is left behind).
 */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  if (!(ms > 0)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(
      () => {
        signal.removeEventListener("abort", onAbort);
        resolve(true);
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

import type { RunContext } from "./run-contract.js";

/**
 * Waits before retry number `attempt` (1 = the first retry): `backoffMs` × 2^(attempt-1),
 * jittered to between half and one and a half times that, never past the deadline; the
 * caller's cancellation ends the wait at once.
 */
export async function backoff(backoffMs: number, attempt: number, random: () => number, ctx: RunContext): Promise<void> {
  const base = backoffMs * 2 ** (attempt - 1);
  const delay = Math.min(base * (0.5 + random()), Math.max(0, ctx.deadline - Date.now()));
  if (delay <= 0) return;
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, delay);
    function done() {
      clearTimeout(timer);
      ctx.signal.removeEventListener("abort", done);
      resolve();
    }
    ctx.signal.addEventListener("abort", done, { once: true });
  });
}

// Open-loop constant-rate load: request i is due at start + i/rate whether or not earlier
// ones have completed, and its latency counts from that due time, not from when it was sent,
// so a stalled server or a late generator shows in the figures (no coordinated omission).
import hdr from "hdr-histogram-js";

/**
 * Sends `rate * seconds` calls of `call()` on schedule. Calls still open `graceMs` after the
 * last is due count as errors. Latencies are recorded in µs.
 */
export async function openLoop({ rate, seconds, call, graceMs = 15_000 }) {
  const total = Math.max(1, Math.round(rate * seconds));
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  const errorKinds = new Map();
  let sent = 0;
  let done = 0;
  let ok = 0;
  let maxSendLagMs = 0;
  let lastDone = 0;
  let closed = false;
  const start = performance.now() + 2;
  const dueOf = (i) => start + (i * 1_000) / rate;

  let hardStop;
  await new Promise((resolve) => {
    const settle = () => {
      lastDone = performance.now();
      if (++done === total) resolve();
    };
    const fire = (due) =>
      call().then(
        () => {
          if (closed) return;
          ok++;
          histogram.recordValue(Math.max(1, Math.round((performance.now() - due) * 1_000)));
          settle();
        },
        (err) => {
          if (closed) return;
          const kind = err instanceof Error ? err.message.slice(0, 120) : String(err);
          errorKinds.set(kind, (errorKinds.get(kind) ?? 0) + 1);
          settle();
        },
      );
    const tick = () => {
      const now = performance.now();
      while (sent < total && dueOf(sent) <= now) {
        maxSendLagMs = Math.max(maxSendLagMs, now - dueOf(sent));
        fire(dueOf(sent++));
      }
      if (sent < total) setTimeout(tick, Math.max(0, dueOf(sent) - performance.now()));
    };
    setTimeout(tick, 2);
    // Bounded: whatever has not answered by then is an error and the window ends.
    hardStop = setTimeout(
      () => {
        const open = total - done;
        if (open > 0) errorKinds.set(`no answer within ${graceMs} ms after the schedule`, open);
        resolve();
      },
      seconds * 1_000 + graceMs,
    );
  });
  clearTimeout(hardStop);
  closed = true;

  const elapsedS = (Math.max(lastDone, dueOf(total - 1)) - start) / 1_000 || seconds;
  const ms = (p) => (ok ? histogram.getValueAtPercentile(p) / 1_000 : NaN);
  const result = {
    target: rate,
    requests: total,
    ok,
    errors: total - ok,
    errorKinds: Object.fromEntries(errorKinds),
    achieved: ok / Math.max(elapsedS, seconds),
    p50: ms(50),
    p99: ms(99),
    p999: ms(99.9),
    max: ok ? histogram.maxValue / 1_000 : NaN,
    maxSendLagMs,
  };
  histogram.destroy();
  return result;
}

import type { IncomingHttpHeaders } from "node:http";

/**
 * How long a provider asked us to wait before calling again, in ms, from its answer's
 * headers; undefined when it gave no usable hint. In order of precedence:
 * - `retry-after-ms` (OpenAI, Azure OpenAI): milliseconds;
 * - `retry-after` (RFC 9110): delay-seconds, or an HTTP date;
 * - on a 429 only, OpenAI's `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens`
 *   (durations such as `1s`, `6m0s`, `250ms`): the longer of the two, since the limit that
 *   was hit is not named.
 * Negative values and dates in the past read as 0 (call again now); nonsense reads as no hint.
 */
export function retryAfterMs(headers: IncomingHttpHeaders, status: number, now: number = Date.now()): number | undefined {
  const ms = numeric(first(headers["retry-after-ms"]));
  if (ms !== undefined) return Math.max(0, ms);
  const retryAfter = first(headers["retry-after"]);
  if (retryAfter !== undefined) {
    const seconds = numeric(retryAfter);
    if (seconds !== undefined) return Math.max(0, seconds * 1_000);
    const date = httpDate(retryAfter);
    if (date !== undefined) return Math.max(0, date - now);
  }
  if (status !== 429) return undefined;
  const resets = [headers["x-ratelimit-reset-requests"], headers["x-ratelimit-reset-tokens"]]
    .map((h) => duration(first(h)))
    .filter((d): d is number => d !== undefined);
  return resets.length > 0 ? Math.max(...resets) : undefined;
}

function first(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  const trimmed = v?.trim();
  return trimmed ? trimmed : undefined;
}

function numeric(text: string | undefined): number | undefined {
  if (text === undefined || !/^-?\d+(\.\d+)?$/.test(text)) return undefined;
  return Number(text);
}

/** IMF-fixdate and the obsolete forms `Date.parse` reads; a bare number is not a date. */
function httpDate(text: string): number | undefined {
  if (!/[A-Za-z]/.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? at : undefined;
}

const UNIT_MS: Readonly<Record<string, number>> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

/** A Go-style duration as OpenAI sends it: `1s`, `6m0s`, `1h2m3.5s`, `250ms`. */
function duration(text: string | undefined): number | undefined {
  if (text === undefined || !/^(\d+(\.\d+)?(h|ms|m|s))+$/.test(text)) return undefined;
  let total = 0;
  for (const [, value, , unit] of text.matchAll(/(\d+(\.\d+)?)(h|ms|m|s)/g)) total += Number(value) * UNIT_MS[unit!]!;
  return total;
}

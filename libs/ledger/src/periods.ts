/** Calendar periods in UTC, as budgets and reports count them. */

const HOUR_MS = 3_600_000;
const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** "2026-11" */
export function monthOf(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}`;
}

/** "2026-11-26" */
export function dayOf(ms: number): string {
  const d = new Date(ms);
  return `${monthOf(ms)}-${pad(d.getUTCDate())}`;
}

/** Start of the hour holding `ms`. */
export function hourStart(ms: number): number {
  return Math.floor(ms / HOUR_MS) * HOUR_MS;
}

/** "2026112614": the hour as a key token. */
export function hourToken(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}${pad(d.getUTCHours())}`;
}

/** Start of the hour a token names; NaN when it is not one. */
export function hourOfToken(token: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})$/.exec(token);
  return m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4])) : Number.NaN;
}

/** When the month holding `ms` ends (start of the next one). */
export function monthEnd(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** When the day holding `ms` ends. */
export function dayEnd(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1);
}

export class PeriodError extends Error {
  override readonly name = "PeriodError";
}

/** `[from, to)` of a period written "2026-11" (month) or "2026-11-26" (day). */
export function periodRange(period: string): { fromMs: number; toMs: number } {
  const month = /^(\d{4})-(\d{2})$/.exec(period);
  if (month) {
    const from = Date.UTC(Number(month[1]), Number(month[2]) - 1, 1);
    if (Number(month[2]) < 1 || Number(month[2]) > 12) throw new PeriodError(`period "${period}": no such month`);
    return { fromMs: from, toMs: monthEnd(from) };
  }
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(period);
  if (day) {
    const from = Date.UTC(Number(day[1]), Number(day[2]) - 1, Number(day[3]));
    if (dayOf(from) !== period) throw new PeriodError(`period "${period}": no such day`);
    return { fromMs: from, toMs: dayEnd(from) };
  }
  throw new PeriodError(`period "${period}": expected a month (2026-11) or a day (2026-11-26)`);
}

/** Start of the month holding `ms`. */
export function monthStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

/** Start of the day holding `ms`. */
export function dayStart(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
}

/** The month and day holding `ms`, as `[start, end)` ranges, for counting many timestamps against them. */
export function periodsAt(ms: number): { month: [number, number]; day: [number, number] } {
  return { month: [monthStart(ms), monthEnd(ms)], day: [dayStart(ms), dayEnd(ms)] };
}

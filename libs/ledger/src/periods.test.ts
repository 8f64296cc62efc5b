import { describe, expect, it } from "vitest";
import { dayOf, hourOfToken, hourToken, monthOf, PeriodError, periodRange, periodsAt } from "./periods.js";

describe("periods (UTC)", () => {
  it("names months, days and hours, and reads hour tokens back", () => {
    const t = Date.UTC(2026, 10, 26, 14, 35);
    expect([monthOf(t), dayOf(t), hourToken(t)]).toEqual(["2026-11", "2026-11-26", "2026112614"]);
    expect(hourOfToken("2026112614")).toBe(Date.UTC(2026, 10, 26, 14));
    expect(hourOfToken("nope")).toBeNaN();
  });

  it("gives [from, to) of a month or a day, and refuses anything else naming it", () => {
    expect(periodRange("2026-12")).toEqual({ fromMs: Date.UTC(2026, 11, 1), toMs: Date.UTC(2027, 0, 1) });
    expect(periodRange("2026-02-28")).toEqual({ fromMs: Date.UTC(2026, 1, 28), toMs: Date.UTC(2026, 2, 1) });
    for (const bad of ["2026-13", "2026-02-30", "November", ""]) expect(() => periodRange(bad)).toThrow(PeriodError);
  });

  it("bounds the month and day around an instant", () => {
    const { month, day } = periodsAt(Date.UTC(2026, 10, 30, 23, 59, 59, 999));
    expect(month).toEqual([Date.UTC(2026, 10, 1), Date.UTC(2026, 11, 1)]);
    expect(day).toEqual([Date.UTC(2026, 10, 30), Date.UTC(2026, 11, 1)]);
  });
});

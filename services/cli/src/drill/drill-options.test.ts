import { describe, expect, it } from "vitest";
import { UsageError } from "../usage-error.js";
import { parseDrillArgs, parseDuration } from "./drill-options.js";

const base = ["--tier", "gold", "--fault", "down", "--duration", "6s", "--rate", "50"];

describe("parseDrillArgs", () => {
  it("fills defaults around the required flags", () => {
    expect(parseDrillArgs(base)).toEqual({
      config: "deploy/tiermesh.example.yaml",
      tier: "gold",
      deployment: undefined,
      fault: "down",
      errorRate: 1,
      slowFactor: 3,
      durationMs: 6_000,
      ratePerSecond: 50,
      beforeMs: 3_000,
      afterMs: 20_000,
      tenant: undefined,
      apiKey: undefined,
      urgency: "interactive",
      tierHint: "",
      users: 20,
      timeoutMs: 30_000,
      json: false,
    });
  });

  it("reads every flag", () => {
    const o = parseDrillArgs([
      "--config",
      "c.yaml",
      "--tier",
      "silver",
      "--deployment",
      "sim/x",
      "--fault",
      "errors",
      "--error-rate",
      "0.25",
      "--duration",
      "500ms",
      "--rate",
      "12.5",
      "--before",
      "0s",
      "--after",
      "1m",
      "--api-key",
      "k",
      "--urgency",
      "batch",
      "--tier-hint",
      "silver",
      "--users",
      "3",
      "--timeout",
      "5s",
      "--json",
    ]);
    expect(o).toMatchObject({
      config: "c.yaml",
      deployment: "sim/x",
      errorRate: 0.25,
      durationMs: 500,
      ratePerSecond: 12.5,
      beforeMs: 0,
      afterMs: 60_000,
      apiKey: "k",
      urgency: "batch",
      tierHint: "silver",
      users: 3,
      timeoutMs: 5_000,
      json: true,
    });
  });

  it("defaults the share of calls hit per fault", () => {
    const rate = (fault: string) => parseDrillArgs([...base.slice(0, 2), "--fault", fault, ...base.slice(4)]).errorRate;
    expect([rate("errors"), rate("429"), rate("hang")]).toEqual([0.3, 1, 1]);
  });

  it.each([
    [["--tier", "gold", "--duration", "6s", "--rate", "5"], /^--fault is required/],
    [[...base.slice(2)], /^--tier is required/],
    [[...base, "--bogus"], /^Unknown option '--bogus'/],
    [[...base, "extra"], /^Unexpected argument 'extra'/],
    [[...base.slice(0, 2), "--fault", "meteor", ...base.slice(4)], /^--fault: expected one of down, hang, slow, 429, errors, got "meteor"/],
    [[...base.slice(0, 4), "--duration", "6", ...base.slice(6)], /^--duration: expected a duration such as 6s or 500ms, got "6"/],
    [[...base.slice(0, 6), "--rate", "0"], /^--rate: expected requests per second/],
    [[...base.slice(0, 6), "--rate", "fast"], /^--rate: /],
    [[...base, "--error-rate", "0.3"], /^--error-rate: applies to --fault errors, 429 or hang, not down/],
    [[...base, "--slow-factor", "2"], /^--slow-factor: applies to --fault slow, not down/],
    [[...base.slice(0, 2), "--fault", "errors", ...base.slice(4), "--error-rate", "1.5"], /^--error-rate: expected a share in \(0, 1\]/],
    [[...base.slice(0, 2), "--fault", "slow", ...base.slice(4), "--slow-factor", "0.5"], /^--slow-factor: expected a factor above 1/],
    [[...base, "--tenant", "demo", "--api-key", "k"], /^--tenant and --api-key: give one/],
    [[...base, "--urgency", "asap"], /^--urgency: expected one of interactive, standard, batch/],
    [[...base, "--users", "2.5"], /^--users: /],
    [[...base, "--before", "-1s"], /^Option '--before' argument is ambiguous$/],
    [[...base, "--before=-1s"], /^--before: expected a duration/],
  ])("refuses %j naming the flag", (args, message) => {
    expect(() => parseDrillArgs(args)).toThrow(UsageError);
    expect(() => parseDrillArgs(args)).toThrow(message);
  });
});

describe("parseDuration", () => {
  it("takes ms, s and m, with decimals", () => {
    expect([parseDuration("d", "250ms"), parseDuration("d", "1.5s"), parseDuration("d", "2m")]).toEqual([250, 1_500, 120_000]);
  });
  it("allows 0 only where asked", () => {
    expect(parseDuration("after", "0s", { allowZero: true })).toBe(0);
    expect(() => parseDuration("duration", "0s")).toThrow(/^--duration: /);
  });
});

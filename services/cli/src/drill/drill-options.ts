import { parseArgs } from "node:util";
import { urgencies } from "@tiermesh/config";
import { UsageError } from "../usage-error.js";

export const faultKinds = ["down", "hang", "slow", "429", "errors"] as const;
export type FaultKind = (typeof faultKinds)[number];

export const drillUsage =
  "tiermesh drill --tier <name> --fault <down|hang|slow|429|errors> --duration <6s> --rate <req/s> [--config <file>] [--deployment <id>] " +
  "[--error-rate <0..1>] [--slow-factor <n>] [--before <3s>] [--after <20s>] [--tenant <name> | --api-key <key>] " +
  "[--urgency <u>] [--tier-hint <tier>] [--users <n>] [--timeout <30s>] [--json]";

export interface DrillOptions {
  config: string;
  tier: string;
  deployment: string | undefined;
  fault: FaultKind;
  /** Share of the model's calls the fault hits (errors, 429, hang). */
  errorRate: number;
  /** Latency multiplier for `slow`. */
  slowFactor: number;
  durationMs: number;
  ratePerSecond: number;
  beforeMs: number;
  afterMs: number;
  tenant: string | undefined;
  apiKey: string | undefined;
  urgency: string;
  tierHint: string;
  /** Distinct end users; one request in four is sent without a user. */
  users: number;
  timeoutMs: number;
  json: boolean;
}

const defaultErrorRate: Record<FaultKind, number> = { down: 1, hang: 1, slow: 0, "429": 1, errors: 0.3 };

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000 };

/** "6s", "500ms", "1.5m" → milliseconds. */
export function parseDuration(flag: string, text: string, { allowZero = false } = {}): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  const ms = m ? Math.round(Number(m[1]) * units[m[2]!]!) : Number.NaN;
  if (!Number.isFinite(ms) || (!allowZero && ms <= 0)) {
    throw new UsageError(`--${flag}: expected a duration such as 6s or 500ms${allowZero ? " (0s allowed)" : ""}, got "${text}"`);
  }
  return ms;
}

function parseNumber(flag: string, text: string, ok: (n: number) => boolean, expected: string): number {
  const n = text.trim() === "" ? Number.NaN : Number(text);
  if (!Number.isFinite(n) || !ok(n)) throw new UsageError(`--${flag}: expected ${expected}, got "${text}"`);
  return n;
}

const s = { type: "string" } as const;

/** Parses and checks `tiermesh drill` flags. Throws UsageError naming the bad flag. */
export function parseDrillArgs(args: readonly string[]): DrillOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        config: s,
        tier: s,
        deployment: s,
        fault: s,
        "error-rate": s,
        "slow-factor": s,
        duration: s,
        rate: s,
        before: s,
        after: s,
        tenant: s,
        "api-key": s,
        urgency: s,
        "tier-hint": s,
        users: s,
        timeout: s,
        json: { type: "boolean" },
      },
    }));
  } catch (err) {
    // node:util's message names the flag ("Unknown option '--foo'..."); keep only its first sentence.
    throw new UsageError(`${String((err as Error).message).split(/\.\s/)[0]}`, { cause: err });
  }
  const required = (flag: "tier" | "fault" | "duration" | "rate"): string => {
    const v = values[flag];
    if (v === undefined || v === "") throw new UsageError(`--${flag} is required`);
    return v;
  };
  const tier = required("tier");
  const faultText = required("fault");
  if (!(faultKinds as readonly string[]).includes(faultText)) {
    throw new UsageError(`--fault: expected one of ${faultKinds.join(", ")}, got "${faultText}"`);
  }
  const fault = faultText as FaultKind;
  if (values["error-rate"] !== undefined && !["errors", "429", "hang"].includes(fault)) {
    throw new UsageError(`--error-rate: applies to --fault errors, 429 or hang, not ${fault}`);
  }
  if (values["slow-factor"] !== undefined && fault !== "slow") {
    throw new UsageError(`--slow-factor: applies to --fault slow, not ${fault}`);
  }
  if (values.tenant !== undefined && values["api-key"] !== undefined) {
    throw new UsageError("--tenant and --api-key: give one (a key already names its tenant)");
  }
  const urgency = values.urgency ?? "interactive";
  if (!(urgencies as readonly string[]).includes(urgency)) {
    throw new UsageError(`--urgency: expected one of ${urgencies.join(", ")}, got "${urgency}"`);
  }
  const errorRate =
    values["error-rate"] === undefined
      ? defaultErrorRate[fault]
      : parseNumber("error-rate", values["error-rate"], (n) => n > 0 && n <= 1, "a share in (0, 1]");
  const slowFactor =
    values["slow-factor"] === undefined
      ? 3
      : parseNumber("slow-factor", values["slow-factor"], (n) => n > 1 && n <= 1_000, "a factor above 1");
  const users =
    values.users === undefined
      ? 20
      : parseNumber("users", values.users, (n) => Number.isInteger(n) && n >= 1 && n <= 10_000, "a whole number of users from 1");
  return {
    config: values.config ?? "deploy/tiermesh.example.yaml",
    tier,
    deployment: values.deployment,
    fault,
    errorRate,
    slowFactor,
    durationMs: parseDuration("duration", required("duration")),
    ratePerSecond: parseNumber("rate", required("rate"), (n) => n > 0 && n <= 5_000, "requests per second in (0, 5000]"),
    beforeMs: values.before === undefined ? 3_000 : parseDuration("before", values.before, { allowZero: true }),
    afterMs: values.after === undefined ? 20_000 : parseDuration("after", values.after, { allowZero: true }),
    tenant: values.tenant,
    apiKey: values["api-key"],
    urgency,
    tierHint: values["tier-hint"] ?? "",
    users,
    timeoutMs: values.timeout === undefined ? 30_000 : parseDuration("timeout", values.timeout),
    json: values.json ?? false,
  };
}

import type { ModelProfile } from "@tiermesh/simulator";
import type { FaultKind } from "./drill-options.js";

/** A partial simulator profile, as `PATCH /admin/models/<model>` takes it. */
export type ProfilePatch = Partial<
  Pick<ModelProfile, "outage" | "error_rate" | "rate_limit_rate" | "hang_rate" | "ttft_ms" | "inter_token_ms">
>;

const scaled = (d: { median: number; p99: number }, factor: number) => ({ median: d.median * factor, p99: d.p99 * factor });

/** The simulator profile change that plays `kind` on a model whose current profile is `profile`. */
export function faultPatch(kind: FaultKind, profile: ModelProfile, o: { errorRate: number; slowFactor: number }): ProfilePatch {
  switch (kind) {
    case "down":
      return { outage: true };
    case "hang":
      return { hang_rate: o.errorRate };
    case "429":
      return { rate_limit_rate: o.errorRate };
    case "errors":
      return { error_rate: o.errorRate };
    case "slow":
      return { ttft_ms: scaled(profile.ttft_ms, o.slowFactor), inter_token_ms: scaled(profile.inter_token_ms, o.slowFactor) };
  }
}

/** Faults already switched on in a profile, so the report can say the drill did not start from healthy. */
export function activeFaults(profile: ModelProfile): string[] {
  const out: string[] = [];
  if (profile.outage) out.push("outage");
  for (const key of ["error_rate", "rate_limit_rate", "hang_rate", "stream_cut_rate"] as const) {
    if (profile[key] > 0) out.push(`${key} ${profile[key]}`);
  }
  return out;
}

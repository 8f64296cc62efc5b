// The scripted incidents, at fixed offsets of the trace, each followed by a quiet period
// so reaction and recovery can both be seen. Offsets are given for the full 165 s run and
// scaled for shorter ones.
import { models, profiles } from "./policies.mjs";

export const FULL_SECONDS = 165;

const double = (d) => ({ median: d.median * 2, p99: d.p99 * 2 });

/**
 * `tier`: the tier whose requests the incident hits (undefined: every tier).
 * `apply`/`revert` act through the simulator admin API or on the nats-server.
 */
const script = [
  {
    id: "gold-hang",
    label: "gold primary hangs",
    tier: "gold",
    from: 15,
    to: 30,
    apply: (ctx) => ctx.patch(models.goldPrimary, { hang_rate: 1 }),
    revert: (ctx) => ctx.patch(models.goldPrimary, { hang_rate: 0 }),
  },
  {
    id: "silver-slow",
    label: "silver latency ×2",
    tier: "silver",
    from: 45,
    to: 60,
    apply: (ctx) =>
      ctx.patch(models.silver, {
        ttft_ms: double(profiles[models.silver].ttft_ms),
        inter_token_ms: double(profiles[models.silver].inter_token_ms),
      }),
    revert: (ctx) =>
      ctx.patch(models.silver, { ttft_ms: profiles[models.silver].ttft_ms, inter_token_ms: profiles[models.silver].inter_token_ms }),
  },
  {
    id: "bronze-429",
    label: "bronze 429 storm",
    tier: "bronze",
    from: 75,
    to: 90,
    apply: (ctx) => ctx.patch(models.bronze, { rate_limit_rate: 0.8, retry_after_s: 1 }),
    revert: (ctx) => ctx.patch(models.bronze, { rate_limit_rate: 0 }),
  },
  {
    id: "gold-503",
    label: "gold primary 503s",
    tier: "gold",
    from: 105,
    to: 120,
    apply: (ctx) => ctx.patch(models.goldPrimary, { outage: true }),
    revert: (ctx) => ctx.patch(models.goldPrimary, { outage: false }),
  },
  {
    id: "nats-restart",
    label: "NATS restart",
    tier: undefined,
    from: 135,
    to: 145,
    apply: (ctx) => ctx.nats.stop(),
    revert: (ctx) => ctx.nats.start(),
  },
];

/** The incidents for a run of `seconds`, with offsets in ms. */
export function incidentScript(seconds) {
  const k = seconds / FULL_SECONDS;
  return script.map((s) => ({ ...s, startMs: Math.round(s.from * k * 1_000), endMs: Math.round(s.to * k * 1_000) }));
}

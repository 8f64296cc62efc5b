/**
 * NATS subjects of tiermesh. `prefix` is `nats.subject_prefix` from config ("tiermesh" by default).
 *
 * - `<prefix>.status.<tier>`   TierStatusEvent (protobuf), on every state change and as a heartbeat.
 * - `<prefix>.alert.<tier>`    TierStatusEvent (protobuf), only on state changes.
 * - `<prefix>.outcomes.<tier>` OutcomeBatch (protobuf), executors' per-attempt outcomes.
 * - `<prefix>.limits.usage`    UsageReport (protobuf), each router's rate-limit consumption per tenant.
 */
export interface Subjects {
  status(tier: string): string;
  readonly allStatus: string;
  alert(tier: string): string;
  readonly allAlerts: string;
  outcomes(tier: string): string;
  readonly allOutcomes: string;
  readonly limitsUsage: string;
}

export function subjects(prefix: string): Subjects {
  return {
    status: (tier) => `${prefix}.status.${tier}`,
    allStatus: `${prefix}.status.*`,
    alert: (tier) => `${prefix}.alert.${tier}`,
    allAlerts: `${prefix}.alert.*`,
    outcomes: (tier) => `${prefix}.outcomes.${tier}`,
    allOutcomes: `${prefix}.outcomes.*`,
    limitsUsage: `${prefix}.limits.usage`,
  };
}

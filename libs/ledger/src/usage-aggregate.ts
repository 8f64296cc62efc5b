import { create } from "@bufbuild/protobuf";
import type { Config } from "@tiermesh/config";
import { UsageAggregateSchema, UsageOutcome, type UsageAggregate, type UsageRecord } from "@tiermesh/proto";
import { addToBuckets, mergeBuckets } from "./latency-buckets.js";
import { aggregateKey } from "./ledger-names.js";
import { hourStart } from "./periods.js";

/** How a record counts against its tier's promises. */
export interface RecordJudge {
  /** It succeeded within the TTFT objective of the tier it was entitled to. */
  metTtft(record: UsageRecord): boolean;
  /** It was served at the tier it was entitled to, or higher. */
  servedEntitled(record: UsageRecord): boolean;
}

/** Judges records by the config's tiers: TTFT against `tiers.<t>.slo.ttft_p95_ms`, rank for served-at-entitled. */
export function judgeByConfig(config: Pick<Config, "tiers">): RecordJudge {
  const rank = (t: string) => (Object.hasOwn(config.tiers, t) ? config.tiers[t]!.rank : undefined);
  return {
    metTtft(r) {
      const tier = entitledTier(r);
      const objective = Object.hasOwn(config.tiers, tier) ? config.tiers[tier]!.slo.ttft_p95_ms : undefined;
      return r.outcome === UsageOutcome.OK && objective !== undefined && r.ttftMs <= objective;
    },
    servedEntitled(r) {
      if (r.outcome !== UsageOutcome.OK) return false;
      const [served, entitled] = [rank(r.servedTier), rank(entitledTier(r))];
      return served !== undefined && entitled !== undefined ? served >= entitled : r.servedTier === entitledTier(r);
    },
  };
}

/** The tier a record counts under: the one the tenant was entitled to. */
export const entitledTier = (r: UsageRecord): string => r.entitledTier || r.requestedTier || "none";

/** Key of the aggregate a record belongs to. */
export const aggregateKeyOf = (r: UsageRecord): string => aggregateKey(r.tenant, entitledTier(r), Number(r.atMs));

export function emptyAggregate(r: UsageRecord): UsageAggregate {
  return create(UsageAggregateSchema, { tenant: r.tenant, tier: entitledTier(r), hourMs: BigInt(hourStart(Number(r.atMs))), plan: r.plan });
}

/**
 * Adds a record (stream sequence `sequence`) to its aggregate; returns false, changing
 * nothing, when the aggregate already holds that sequence or a later one (replays and
 * redeliveries count once).
 */
export function applyRecord(agg: UsageAggregate, r: UsageRecord, sequence: bigint, judge: RecordJudge): boolean {
  if (sequence <= agg.appliedSequence) return false;
  agg.appliedSequence = sequence;
  if (r.plan) agg.plan = r.plan;
  agg.costUsd += r.costUsd;
  agg.promptTokens += BigInt(r.promptTokens);
  agg.completionTokens += BigInt(r.completionTokens);
  if (r.outcome === UsageOutcome.REFUSED) {
    agg.refused += 1n;
    return true;
  }
  // Invalid requests are the caller's doing: they count against no promise.
  if (r.outcome === UsageOutcome.REJECTED) return true;
  agg.requests += 1n;
  if (r.outcome === UsageOutcome.OK) {
    agg.ok += 1n;
    addToBuckets(agg.ttftBuckets, r.ttftMs);
    addToBuckets(agg.latencyBuckets, r.latencyMs);
  } else if (r.outcome === UsageOutcome.FAILED) {
    agg.failed += 1n;
  }
  if (judge.servedEntitled(r)) agg.servedEntitled += 1n;
  if (judge.metTtft(r)) agg.metTtftSlo += 1n;
  return true;
}

/** Adds `from`'s counts into `into` (for reports over many hours or tiers). */
export function addAggregate(into: UsageAggregate, from: UsageAggregate): void {
  into.requests += from.requests;
  into.ok += from.ok;
  into.failed += from.failed;
  into.refused += from.refused;
  into.servedEntitled += from.servedEntitled;
  into.metTtftSlo += from.metTtftSlo;
  into.promptTokens += from.promptTokens;
  into.completionTokens += from.completionTokens;
  into.costUsd += from.costUsd;
  mergeBuckets(into.ttftBuckets, from.ttftBuckets);
  mergeBuckets(into.latencyBuckets, from.latencyBuckets);
  if (from.appliedSequence > into.appliedSequence) into.appliedSequence = from.appliedSequence;
  if (from.plan) into.plan = from.plan;
}

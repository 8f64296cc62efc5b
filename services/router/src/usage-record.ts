import { create } from "@bufbuild/protobuf";
import { Code, type ConnectError } from "@connectrpc/connect";
import { UsageOutcome, UsageRecordSchema, type CompleteResponse, type UsageRecord } from "@tiermesh/proto";

/** Who asked and what they were entitled to: the part of a usage record known before routing. */
export interface UsageHeader {
  requestId: string;
  tenant: string;
  user: string;
  plan: string;
  /** The tier the plan and rules gave the request, before budget pacing. */
  entitledTier: string;
  /** The tier it was routed at (after budget pacing). */
  requestedTier: string;
}

/** Codes that mean the request itself was wrong: not the tiers' failure. */
const CALLER_CODES = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.PermissionDenied,
  Code.Unauthenticated,
  Code.FailedPrecondition,
  Code.OutOfRange,
]);

function outcomeOf(err: ConnectError, refused: boolean): UsageOutcome {
  if (refused) return UsageOutcome.REFUSED;
  if (err.code === Code.Canceled) return UsageOutcome.CANCELLED;
  return CALLER_CODES.has(err.code) ? UsageOutcome.REJECTED : UsageOutcome.FAILED;
}

const ms = (us: bigint | undefined) => Math.round(Number(us ?? 0n) / 1_000);

/**
 * Sets the header's fields one by one. (Spread into `create`'s init, `{ ...h }`, they made the
 * record several times dearer to build: protobuf-es reads such an object slowly, and this runs
 * for every request.)
 */
function withHeader(r: UsageRecord, h: UsageHeader): UsageRecord {
  r.requestId = h.requestId;
  r.tenant = h.tenant;
  r.user = h.user;
  r.plan = h.plan;
  r.entitledTier = h.entitledTier;
  r.requestedTier = h.requestedTier;
  return r;
}

/** The ledger record of a request that was answered. */
export function answeredRecord(h: UsageHeader, res: CompleteResponse, atMs = Date.now()): UsageRecord {
  const r = create(UsageRecordSchema, {
    servedTier: res.routing?.servedTier ?? "",
    model: res.model,
    provider: res.provider,
    promptTokens: res.usage?.promptTokens ?? 0,
    completionTokens: res.usage?.completionTokens ?? 0,
    costUsd: res.costUsd,
    ttftMs: ms(res.timings?.ttftUs),
    latencyMs: ms(res.timings?.totalUs),
    outcome: UsageOutcome.OK,
    reasons: res.routing?.reasons ?? [],
    atMs: BigInt(atMs),
  });
  return withHeader(r, h);
}

/** The ledger record of a request that failed (or was refused before any tier was called). */
export function failedRecord(
  h: UsageHeader,
  err: ConnectError,
  reasons: string[],
  latencyMs: number,
  refused = false,
  atMs = Date.now(),
): UsageRecord {
  const r = create(UsageRecordSchema, {
    latencyMs: Math.round(latencyMs),
    outcome: outcomeOf(err, refused),
    errorCode: Code[err.code] ?? "",
    reasons,
    atMs: BigInt(atMs),
  });
  return withHeader(r, h);
}

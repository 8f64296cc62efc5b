import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import {
  BudgetHoldsSchema,
  UsageAggregateSchema,
  UsageRecordBatchSchema,
  UsageRecordSchema,
  type BudgetHolds,
  type UsageAggregate,
  type UsageRecord,
} from "@tiermesh/proto";

export const encodeRecord = (r: UsageRecord): Uint8Array => toBinary(UsageRecordSchema, r);
export const decodeRecord = (bytes: Uint8Array): UsageRecord => fromBinary(UsageRecordSchema, bytes);

/** A UsageRecordBatch of records already encoded (field 1, each length-delimited), without decoding them again. */
export function encodeBatch(records: readonly Uint8Array[]): Uint8Array {
  const w = new BinaryWriter();
  for (const r of records) w.tag(1, WireType.LengthDelimited).bytes(r);
  return w.finish();
}

/** The records of a ledger message: a batch on the batch subject, else one record. */
export function decodeLedgerMessage(subject: string, batchSubject: string, bytes: Uint8Array): UsageRecord[] {
  return subject === batchSubject ? fromBinary(UsageRecordBatchSchema, bytes).records : [decodeRecord(bytes)];
}
export const encodeAggregate = (a: UsageAggregate): Uint8Array => toBinary(UsageAggregateSchema, a);
export const decodeAggregate = (bytes: Uint8Array): UsageAggregate => fromBinary(UsageAggregateSchema, bytes);
export const encodeHolds = (h: BudgetHolds): Uint8Array => toBinary(BudgetHoldsSchema, h);
export const decodeHolds = (bytes: Uint8Array): BudgetHolds => fromBinary(BudgetHoldsSchema, bytes);

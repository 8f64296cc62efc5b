import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  BudgetHoldsSchema,
  UsageAggregateSchema,
  UsageRecordSchema,
  type BudgetHolds,
  type UsageAggregate,
  type UsageRecord,
} from "@tiermesh/proto";

export const encodeRecord = (r: UsageRecord): Uint8Array => toBinary(UsageRecordSchema, r);
export const decodeRecord = (bytes: Uint8Array): UsageRecord => fromBinary(UsageRecordSchema, bytes);
export const encodeAggregate = (a: UsageAggregate): Uint8Array => toBinary(UsageAggregateSchema, a);
export const decodeAggregate = (bytes: Uint8Array): UsageAggregate => fromBinary(UsageAggregateSchema, bytes);
export const encodeHolds = (h: BudgetHolds): Uint8Array => toBinary(BudgetHoldsSchema, h);
export const decodeHolds = (bytes: Uint8Array): BudgetHolds => fromBinary(BudgetHoldsSchema, bytes);

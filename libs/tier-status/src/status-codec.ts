import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { OutcomeBatchSchema, TierStatusEventSchema, type OutcomeBatch, type TierStatusEvent } from "@tiermesh/proto";

export const encodeStatus = (event: TierStatusEvent): Uint8Array => toBinary(TierStatusEventSchema, event);
export const decodeStatus = (bytes: Uint8Array): TierStatusEvent => fromBinary(TierStatusEventSchema, bytes);
export const encodeOutcomes = (batch: OutcomeBatch): Uint8Array => toBinary(OutcomeBatchSchema, batch);
export const decodeOutcomes = (bytes: Uint8Array): OutcomeBatch => fromBinary(OutcomeBatchSchema, bytes);

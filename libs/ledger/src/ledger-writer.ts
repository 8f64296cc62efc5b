import { randomUUID } from "node:crypto";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { UsageRecord } from "@tiermesh/proto";
import { ledgerBatchSubject, ledgerPosition, MAX_BATCH_RECORDS } from "./ledger-names.js";
import { encodeBatch, encodeRecord } from "./usage-codec.js";

export interface LedgerWriterOptions {
  /** The current NATS connection, if any. */
  connection: () => NatsConnection | undefined;
  subjectPrefix: string;
  /** Run once per connection before the first append (creates the stream). */
  prepare?: (nc: NatsConnection) => Promise<unknown>;
  /** Records kept until JetStream acknowledges them; past this, new records are refused. */
  maxBuffered: number;
  /** Longest time a record waits before it is sent. */
  flushMs: number;
  /** Batches in flight at once. */
  maxInFlight?: number;
  /** Records in one JetStream message, at most (and at most MAX_BATCH_RECORDS). */
  maxBatch?: number;
  /** Called once a record is stored, with its request id and ledger position (see `ledgerPosition`). */
  onStored?: (requestId: string, position: bigint) => void;
  onError?: (err: unknown) => void;
}

/** A record kept as its encoding only (what is sent), so the buffer costs about its wire size. */
interface Pending {
  requestId: string;
  bytes: Uint8Array;
  /** The batch it was put in; it stays there until that batch is stored. */
  batch?: Batch;
}

/** Records sent together, always as the same message under the same id until stored. */
interface Batch {
  id: string;
  requestIds: string[];
  bytes: Uint8Array;
  sending: boolean;
}

/** Bytes of records in one message, at most (NATS's default max payload is 1 MB). */
const MAX_BATCH_BYTES = 512 * 1024;
const PUBLISH_TIMEOUT_MS = 5_000;
const MAX_RETRY_MS = 5_000;

/**
 * Appends usage records to the ledger stream off the request path: `append` only buffers.
 * Each flush puts the records not yet sent in batches (one JetStream message each, a
 * UsageRecordBatch with this writer's batch id as `Nats-Msg-Id`): one acknowledged publish
 * per flush instead of one per request. A record stays buffered, in its batch, until the
 * stream acknowledges that batch; a failed or unanswered batch is sent again as it was (with
 * backoff while NATS is away), and the stream's deduplication stores it once however often it
 * was sent. The buffer is bounded: beyond `maxBuffered` records not yet stored, new ones are
 * refused and counted, never ones already accepted.
 */
export class LedgerWriter {
  private readonly pending = new Map<string, Pending>();
  private readonly batches = new Map<string, Batch>();
  private readonly writerId = randomUUID();
  private batchCount = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryMs = 0;
  private inFlight = 0;
  private dropped = 0;
  private stored = 0;
  private prepared: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private closed = false;
  private readonly maxInFlight: number;
  private readonly idle = new Set<() => void>();

  constructor(private readonly options: LedgerWriterOptions) {
    this.maxInFlight = options.maxInFlight ?? 16;
  }

  /** Records refused because the buffer was full. */
  get droppedCount(): number {
    return this.dropped;
  }

  /** Records the stream acknowledged. */
  get storedCount(): number {
    return this.stored;
  }

  /** Records accepted and not yet acknowledged. */
  get bufferedCount(): number {
    return this.pending.size;
  }

  /** Buffers a record; false when the buffer is full and the record was refused. */
  append(record: UsageRecord): boolean {
    if (this.pending.has(record.requestId)) return true;
    if (this.pending.size >= this.options.maxBuffered) {
      this.dropped++;
      return false;
    }
    this.pending.set(record.requestId, { requestId: record.requestId, bytes: encodeRecord(record) });
    this.schedule(this.options.flushMs);
    return true;
  }

  /** Resolves once every accepted record is stored (or after `timeoutMs`); true when all are. */
  async drain(timeoutMs: number): Promise<boolean> {
    if (this.pending.size === 0) return true;
    this.schedule(0);
    return await new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.idle.delete(done);
        resolve(this.pending.size === 0);
      };
      const timer = setTimeout(done, timeoutMs);
      this.idle.add(done);
    });
  }

  /** Stops sending; what is still buffered is lost with the process (drain first). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const done of [...this.idle]) done();
  }

  private schedule(ms: number): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
  }

  private async flush(): Promise<void> {
    const nc = this.options.connection();
    if (!nc || nc.isClosed()) return this.retryLater();
    try {
      if (this.prepared !== nc) {
        await this.options.prepare?.(nc);
        this.prepared = nc;
        this.js = jetstream(nc);
      }
    } catch (err) {
      this.options.onError?.(err);
      return this.retryLater();
    }
    const js = this.js!;
    this.formBatches();
    for (const b of this.batches.values()) {
      if (this.inFlight >= this.maxInFlight) break;
      if (b.sending) continue;
      b.sending = true;
      this.inFlight++;
      void this.send(js, b);
    }
  }

  /** Puts every record not in a batch yet into new batches, in the order they were appended. */
  private formBatches(): void {
    const maxRecords = Math.min(this.options.maxBatch ?? 256, MAX_BATCH_RECORDS);
    let open: Pending[] = [];
    let bytes = 0;
    const close = () => {
      if (open.length === 0) return;
      const id = `${this.writerId}:${++this.batchCount}`;
      const batch: Batch = { id, requestIds: open.map((p) => p.requestId), bytes: encodeBatch(open.map((p) => p.bytes)), sending: false };
      for (const p of open) p.batch = batch;
      this.batches.set(id, batch);
      open = [];
      bytes = 0;
    };
    for (const p of this.pending.values()) {
      if (p.batch) continue;
      if (open.length >= maxRecords || (open.length > 0 && bytes + p.bytes.byteLength > MAX_BATCH_BYTES)) close();
      open.push(p);
      bytes += p.bytes.byteLength;
    }
    close();
  }

  private async send(js: JetStreamClient, b: Batch): Promise<void> {
    try {
      const ack = await js.publish(ledgerBatchSubject(this.options.subjectPrefix), b.bytes, { msgID: b.id, timeout: PUBLISH_TIMEOUT_MS });
      this.batches.delete(b.id);
      this.retryMs = 0;
      for (const [index, requestId] of b.requestIds.entries()) {
        this.pending.delete(requestId);
        this.stored++;
        this.options.onStored?.(requestId, ledgerPosition(ack.seq, index));
      }
    } catch (err) {
      b.sending = false;
      this.options.onError?.(err);
      // The stream may be gone or the connection new: set up again before the next try.
      this.prepared = undefined;
      this.retryLater();
    } finally {
      this.inFlight--;
      if (this.pending.size === 0) for (const done of [...this.idle]) done();
      // What arrived meanwhile waits for the next flush and goes out together (at once when draining).
      else if (this.retryMs === 0) this.schedule(this.idle.size > 0 ? 0 : this.options.flushMs);
    }
  }

  private retryLater(): void {
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(250, this.retryMs * 2));
    this.schedule(this.retryMs);
  }
}

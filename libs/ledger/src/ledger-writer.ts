import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { UsageRecord } from "@tiermesh/proto";
import { ledgerSubject } from "./ledger-names.js";
import { encodeRecord } from "./usage-codec.js";

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
  /** Appends in flight at once. */
  maxInFlight?: number;
  /** Called once a record is stored, with its request id and stream sequence. */
  onStored?: (requestId: string, sequence: number) => void;
  onError?: (err: unknown) => void;
}

/** A record kept as its encoding only (what is sent), so the buffer costs about its wire size. */
interface Pending {
  requestId: string;
  subject: string;
  bytes: Uint8Array;
  sending: boolean;
}

const PUBLISH_TIMEOUT_MS = 5_000;
const MAX_RETRY_MS = 5_000;

/**
 * Appends usage records to the ledger stream off the request path: `append` only buffers.
 * Every record goes out as a JetStream publish with its request id as `Nats-Msg-Id`, and
 * stays buffered until the stream acknowledges it; a failed or unanswered append is sent
 * again (with backoff while NATS is away), and the stream's deduplication stores it once
 * however often it was sent. The buffer is bounded: beyond `maxBuffered` records not yet
 * stored, new ones are refused and counted, never ones already accepted.
 */
export class LedgerWriter {
  private readonly pending = new Map<string, Pending>();
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
    this.maxInFlight = options.maxInFlight ?? 256;
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
    const subject = ledgerSubject(this.options.subjectPrefix, record.tenant);
    this.pending.set(record.requestId, { requestId: record.requestId, subject, bytes: encodeRecord(record), sending: false });
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
    for (const p of this.pending.values()) {
      if (this.inFlight >= this.maxInFlight) break;
      if (p.sending) continue;
      p.sending = true;
      this.inFlight++;
      void this.send(js, p);
    }
  }

  private async send(js: JetStreamClient, p: Pending): Promise<void> {
    try {
      const ack = await js.publish(p.subject, p.bytes, { msgID: p.requestId, timeout: PUBLISH_TIMEOUT_MS });
      this.pending.delete(p.requestId);
      this.stored++;
      this.retryMs = 0;
      this.options.onStored?.(p.requestId, ack.seq);
    } catch (err) {
      p.sending = false;
      this.options.onError?.(err);
      // The stream may be gone or the connection new: set up again before the next try.
      this.prepared = undefined;
      this.retryLater();
    } finally {
      this.inFlight--;
      if (this.pending.size === 0) for (const done of [...this.idle]) done();
      else if (this.retryMs === 0) this.schedule(0);
    }
  }

  private retryLater(): void {
    this.retryMs = Math.min(MAX_RETRY_MS, Math.max(250, this.retryMs * 2));
    this.schedule(this.retryMs);
  }
}

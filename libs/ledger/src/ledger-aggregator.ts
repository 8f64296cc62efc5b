import { setImmediate as nextTurn } from "node:timers/promises";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { LedgerConfig } from "@tiermesh/config";
import type { UsageAggregate, UsageRecord } from "@tiermesh/proto";
import { CHECKPOINT_KEY, openAggregates, readAggregate, readCheckpoint, writeAggregate } from "./aggregate-store.js";
import { AGGREGATOR_CONSUMER, ledgerBatchSubject, ledgerPosition } from "./ledger-names.js";
import { ensureLedgerStream, isNotFound } from "./ledger-stream.js";
import { aggregateKeyOf, applyRecord, emptyAggregate, type RecordJudge } from "./usage-aggregate.js";
import { decodeLedgerMessage } from "./usage-codec.js";

interface AggregatorLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface LedgerAggregatorOptions {
  subjectPrefix: string;
  ledger: LedgerConfig;
  judge: () => RecordJudge;
  logger: AggregatorLogger;
  /** Whether this process may write now (the monitor's leader lease); checked before every write. */
  mayWrite: () => boolean;
  /** Records per fetch. */
  batch?: number;
}

const NS_PER_MS = 1_000_000;
/** Records decoded or applied between two turns of the event loop (see apply). */
const RECORDS_PER_TURN = 32;
const RETRY_MS = 1_000;
const MAX_CAS_TRIES = 20;

/**
 * Folds the ledger stream into the hourly aggregates, one batch at a time and strictly in
 * stream order, through a durable consumer with explicit acks:
 *
 * 1. fetch a batch; 2. group its records by aggregate key and write each key once with
 * compare-and-set, skipping records whose sequence the key already holds; 3. store the
 * checkpoint (the batch's last sequence); 4. ack the batch.
 *
 * A crash anywhere leaves the batch unacked: the next start recreates the consumer at the
 * checkpoint + 1, so the batch comes again in order, and the per-key applied sequence keeps
 * it from counting twice. Nothing is acked before its counts are in the bucket, so nothing
 * is lost either. (The consumer is recreated on every start, rather than resumed, because a
 * consumer resumed with unacked messages would deliver newer ones first, and applying a
 * key's records out of order would make the skip drop the older ones.)
 */
export class LedgerAggregator {
  /** The run that may go on; a stopped run sees another (or none) here and ends. */
  private current: object | undefined;
  private loop: Promise<void> | undefined;
  private applied = 0;

  constructor(private readonly options: LedgerAggregatorOptions) {}

  /** Records applied by this process (skipped repeats not counted). */
  get appliedCount(): number {
    return this.applied;
  }

  start(nc: NatsConnection): void {
    if (this.current) return;
    const run = {};
    this.current = run;
    this.loop = this.run(nc, run);
  }

  /**
   * Stops the run, waiting up to `waitMs` for it to end. A run stuck in a fetch (NATS away)
   * may end later, but never writes again: every write first checks that its run is current,
   * and a new run starts over from the checkpoint in stream order, so the two cannot drop or
   * double any record (see the class comment).
   */
  async stop(waitMs = 3_000): Promise<void> {
    this.current = undefined;
    const loop = this.loop;
    this.loop = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([loop, new Promise((r) => (timer = setTimeout(r, waitMs)))]);
    clearTimeout(timer);
  }

  private async run(nc: NatsConnection, run: object): Promise<void> {
    const running = () => this.current === run;
    while (running() && !nc.isClosed()) {
      try {
        await this.follow(nc, running);
      } catch (err) {
        if (running()) this.options.logger.warn({ err }, "ledger aggregation interrupted; starting again from the checkpoint");
      }
      if (running()) await new Promise((r) => setTimeout(r, RETRY_MS));
    }
  }

  private async follow(nc: NatsConnection, running: () => boolean): Promise<void> {
    const { ledger, subjectPrefix } = this.options;
    await ensureLedgerStream(nc, subjectPrefix, ledger);
    const kv = await openAggregates(nc, ledger.aggregates_bucket);
    const checkpoint = await readCheckpoint(kv);
    const jsm = await jetstreamManager(nc);
    await jsm.consumers.delete(ledger.stream, AGGREGATOR_CONSUMER).catch((cause: unknown) => {
      if (!isNotFound(cause)) throw cause;
    });
    const batch = this.options.batch ?? 256;
    await jsm.consumers.add(ledger.stream, {
      durable_name: AGGREGATOR_CONSUMER,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: checkpoint.sequence + 1,
      ack_wait: 60_000 * NS_PER_MS,
      max_ack_pending: batch,
    });
    this.options.logger.info({ from: checkpoint.sequence + 1 }, "ledger aggregation following the stream");
    const consumer = await jetstream(nc).consumers.get(ledger.stream, AGGREGATOR_CONSUMER);
    let checkpointRevision = checkpoint.revision;
    while (running()) {
      const messages: JsMsg[] = [];
      for await (const m of await consumer.fetch({ max_messages: batch, expires: 1_000 })) messages.push(m);
      if (messages.length === 0) continue;
      if (!running() || !this.options.mayWrite()) throw new Error("no longer allowed to write aggregates");
      await this.apply(kv, messages, running);
      const last = messages.at(-1)!.seq;
      // Compare-and-set: a rebuild (which removes the checkpoint) or another run in the meantime stops this one.
      if (!running()) break;
      checkpointRevision =
        checkpointRevision === 0
          ? await kv.create(CHECKPOINT_KEY, String(last))
          : await kv.update(CHECKPOINT_KEY, String(last), checkpointRevision);
      for (const m of messages) m.ack();
    }
  }

  private async apply(kv: KV, messages: JsMsg[], running: () => boolean): Promise<void> {
    const judge = this.options.judge();
    const byKey = new Map<string, { record: UsageRecord; sequence: bigint }[]>();
    const batchSubject = ledgerBatchSubject(this.options.subjectPrefix);
    // A fetch can bring thousands of records; decoded and applied in one go they would hold
    // the event loop for milliseconds, and in the one-process mode requests wait behind it.
    let sinceTurn = 0;
    const turn = async (records: number) => {
      sinceTurn += records;
      if (sinceTurn < RECORDS_PER_TURN) return;
      sinceTurn = 0;
      await nextTurn();
    };
    for (const m of messages) {
      let records: UsageRecord[];
      try {
        records = decodeLedgerMessage(m.subject, batchSubject, m.data);
      } catch (err) {
        this.options.logger.warn({ err, sequence: m.seq }, "unreadable ledger message skipped");
        continue;
      }
      for (const [index, record] of records.entries()) {
        const key = aggregateKeyOf(record);
        const list = byKey.get(key) ?? [];
        list.push({ record, sequence: ledgerPosition(m.seq, index) });
        byKey.set(key, list);
      }
      await turn(records.length);
    }
    for (const [key, records] of byKey) {
      for (let tries = 0; ; tries++) {
        if (tries >= MAX_CAS_TRIES) throw new Error(`aggregate ${key}: too many concurrent writes`);
        if (!running() || !this.options.mayWrite()) throw new Error("no longer allowed to write aggregates");
        const { aggregate, revision } = await readAggregate(kv, key);
        const next: UsageAggregate = aggregate ?? emptyAggregate(records[0]!.record);
        let changed = 0;
        for (const { record, sequence } of records) if (applyRecord(next, record, sequence, judge)) changed++;
        await turn(records.length);
        if (changed === 0) break;
        if (await writeAggregate(kv, key, next, revision)) {
          this.applied += changed;
          break;
        }
      }
    }
  }
}

import {
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type NextMsgRequest,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { JobSchema, type Job } from "@tiermesh/proto";
import { DeadlineConsumer, subjectCounts, type TierConsumerOptions } from "./deadline-consumer.js";
import { QueueBell } from "./queue-bell.js";
import { bandConsumerName, consumerName, deadlineBand, jobSubjects, queuePayload, type JobSubjects } from "./job-names.js";

/** Publishes of one job within this long are one message (the stream's duplicate window). */
const DUPLICATE_WINDOW_MS = 120_000;
/** Band width of a tier the queue was not told of. */
const DEFAULT_BAND_SECONDS = 300;

export interface JobQueueOptions {
  stream: string;
  prefix: string;
  /** Queued and dead-lettered jobs older than this are dropped. */
  retentionMs: number;
  /** Width of each tier's deadline bands (`async.deadline_band_seconds`). */
  bandSeconds?: (tier: string) => number | undefined;
}

/** A job kept on a dead-letter subject. */
export interface DeadLetter {
  /** Its sequence in the jobs stream. */
  seq: number;
  /** When it was dead-lettered. */
  at: Date;
  /** The job as it failed. */
  job: Job;
}

/** Backlog of one tier: jobs waiting, jobs delivered and not yet acknowledged. */
export interface TierBacklog {
  pending: number;
  inProgress: number;
}

/**
 * The jobs stream: a work-queue stream (file storage) holding each tier's queued jobs on one
 * subject per deadline band, consumed earliest band first by durable pull consumers that the
 * tier's executors share (explicit acks: a job leaves the stream only once acknowledged; see
 * DeadlineConsumer), plus dead letters.
 */
export class JobQueue {
  readonly subjects: JobSubjects;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly options: JobQueueOptions,
  ) {
    this.subjects = jobSubjects(options.prefix);
  }

  /** Opens the stream, creating it (or bringing its settings up to date) as needed. */
  static async open(nc: NatsConnection, options: JobQueueOptions): Promise<JobQueue> {
    const jsm = await jetstreamManager(nc);
    const config = {
      name: options.stream,
      subjects: jobSubjects(options.prefix).all,
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      max_age: nanos(options.retentionMs),
      duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    };
    try {
      await jsm.streams.add(config);
    } catch {
      await jsm.streams.update(options.stream, config);
    }
    return new JobQueue(nc, jetstream(nc), jsm, options);
  }

  /** Opens the stream as it is, changing nothing (for tools); fails if there is none. */
  static async existing(nc: NatsConnection, options: JobQueueOptions): Promise<JobQueue> {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.info(options.stream);
    return new JobQueue(nc, jetstream(nc), jsm, options);
  }

  private bandSeconds(tier: string): number {
    return this.options.bandSeconds?.(tier) ?? DEFAULT_BAND_SECONDS;
  }

  /**
   * Queues a job on its tier's band for its deadline; publishing one job twice within the
   * duplicate window queues it once (a replayed job is a new message).
   */
  async enqueue(job: Job): Promise<void> {
    const band = deadlineBand(Number(job.deadlineMs), this.bandSeconds(job.tier));
    const msgID = job.replays > 0 ? `${job.id}-replay-${job.replays}` : job.id;
    await this.js.publish(this.subjects.due(job.tier, band), queuePayload(job.tenant, job.id), { msgID });
  }

  /** Keeps a job that failed for good on its tier's dead-letter subject. */
  async deadLetter(job: Job): Promise<void> {
    await this.js.publish(this.subjects.dead(job.tier), toBinary(JobSchema, job), { msgID: `dead-${job.id}-${job.replays}` });
  }

  /** Takes the tier's jobs earliest deadline first, through consumers shared by the tier's executors. */
  consumer(options: Omit<TierConsumerOptions, "bandSeconds">): DeadlineConsumer {
    const bell = new QueueBell(this.nc, [this.subjects.dueAll(options.tier), this.subjects.legacy(options.tier)]);
    return new DeadlineConsumer(
      this.js,
      this.jsm,
      this.options.stream,
      this.subjects,
      { ...options, bandSeconds: this.bandSeconds(options.tier) },
      bell,
    );
  }

  /** Jobs of a tier waiting and in progress (delivered, not yet acknowledged). */
  async backlog(tier: string): Promise<TierBacklog | undefined> {
    try {
      const counts = await subjectCounts(this.jsm, this.options.stream, [this.subjects.dueAll(tier), this.subjects.legacy(tier)]);
      let queued = 0;
      for (const n of counts.values()) queued += n;
      const bandPrefix = bandConsumerName(tier, 0).slice(0, -1);
      let inProgress = 0;
      for await (const info of this.jsm.consumers.list(this.options.stream)) {
        if (info.name === consumerName(tier) || info.name.startsWith(bandPrefix)) inProgress += info.num_ack_pending;
      }
      inProgress = Math.min(inProgress, queued);
      return { pending: queued - inProgress, inProgress };
    } catch {
      return undefined;
    }
  }

  /** When the oldest job still in a tier's queue (waiting or in progress) was queued, epoch ms; undefined when none is. */
  async oldestQueuedAt(tier: string): Promise<number | undefined> {
    const firstOf = async (subject: string) => {
      try {
        // STREAM.MSG.GET takes `next_by_subj` (the first message of a subject), which the client's type leaves out.
        const query = { seq: 0, next_by_subj: subject } as NextMsgRequest as unknown as MsgRequest;
        const msg = await this.jsm.streams.getMessage(this.options.stream, query);
        return msg?.time.getTime();
      } catch {
        return undefined;
      }
    };
    const times = await Promise.all([firstOf(this.subjects.dueAll(tier)), firstOf(this.subjects.legacy(tier))]);
    const known = times.filter((t): t is number => t !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  }

  /**
   * The jobs kept on the dead-letter subjects (of `tier`, or of every tier), oldest first,
   * each with its sequence in the stream and when it was dead-lettered.
   */
  async deadLetters(tier?: string): Promise<DeadLetter[]> {
    const subject = tier === undefined ? this.subjects.dead("*") : this.subjects.dead(tier);
    const out: DeadLetter[] = [];
    for (let seq = 1; ; ) {
      // STREAM.MSG.GET takes `next_by_subj` (the first message of a subject at or after seq), which the client's type leaves out.
      const query = { seq, next_by_subj: subject } as NextMsgRequest as unknown as MsgRequest;
      const msg = await this.jsm.streams.getMessage(this.options.stream, query);
      if (!msg) return out;
      try {
        out.push({ seq: msg.seq, at: msg.time, job: fromBinary(JobSchema, msg.data) });
      } catch {
        // Not a Job (written by something else): not a dead letter to show or replay.
      }
      seq = msg.seq + 1;
    }
  }

  /** Removes one dead letter (by its sequence in the stream); false if it was gone already. */
  async dropDeadLetter(seq: number): Promise<boolean> {
    try {
      return await this.jsm.streams.deleteMessage(this.options.stream, seq, false);
    } catch {
      return false;
    }
  }

  /** Jobs on a tier's dead-letter subject. */
  async deadLettered(tier: string): Promise<number> {
    try {
      const info = await this.jsm.streams.info(this.options.stream, { subjects_filter: this.subjects.dead(tier) });
      return info.state.subjects?.[this.subjects.dead(tier)] ?? 0;
    } catch {
      return 0;
    }
  }
}

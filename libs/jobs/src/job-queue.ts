import {
  AckPolicy,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type JetStreamClient,
  type JetStreamManager,
  type MsgRequest,
  type NextMsgRequest,
} from "@nats-io/jetstream";
import { nanos, type NatsConnection } from "@nats-io/transport-node";
import { toBinary } from "@bufbuild/protobuf";
import { JobSchema, type Job } from "@tiermesh/proto";
import { consumerName, jobSubjects, queuePayload, type JobSubjects } from "./job-names.js";

/** Publishes of one job within this long are one message (the stream's duplicate window). */
const DUPLICATE_WINDOW_MS = 120_000;

export interface JobQueueOptions {
  stream: string;
  prefix: string;
  /** Queued and dead-lettered jobs older than this are dropped. */
  retentionMs: number;
}

/** How a tier's executors take jobs. */
export interface TierConsumerOptions {
  tier: string;
  /** Deliveries of one message before the server stops delivering it. */
  maxDeliver: number;
  ackWaitMs: number;
}

/** Backlog of one tier: jobs waiting, jobs delivered and not yet acknowledged. */
export interface TierBacklog {
  pending: number;
  inProgress: number;
}

/**
 * The jobs stream: a work-queue stream (file storage) holding each tier's queued jobs on
 * its own subject, in submission order, consumed by one durable pull consumer per tier that
 * the tier's executors share (explicit acks: a job leaves the stream only once acknowledged),
 * plus dead letters.
 */
export class JobQueue {
  readonly subjects: JobSubjects;

  private constructor(
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
    return new JobQueue(jetstream(nc), jsm, options);
  }

  /** Queues a job for its tier; publishing one job twice within the duplicate window queues it once. */
  async enqueue(job: Job): Promise<void> {
    await this.js.publish(this.subjects.queue(job.tier), queuePayload(job.tenant, job.id), { msgID: job.id });
  }

  /** Keeps a job that failed for good on its tier's dead-letter subject. */
  async deadLetter(job: Job): Promise<void> {
    await this.js.publish(this.subjects.dead(job.tier), toBinary(JobSchema, job), { msgID: `dead-${job.id}` });
  }

  /** The tier's shared durable pull consumer, created or brought up to date. */
  async consumer(options: TierConsumerOptions): Promise<Consumer> {
    const name = consumerName(options.tier);
    const config = {
      durable_name: name,
      filter_subject: this.subjects.queue(options.tier),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: options.maxDeliver,
      ack_wait: nanos(options.ackWaitMs),
      max_ack_pending: 10_000,
    };
    try {
      await this.jsm.consumers.add(this.options.stream, config);
    } catch {
      await this.jsm.consumers.update(this.options.stream, name, config);
    }
    return this.js.consumers.get(this.options.stream, name);
  }

  /** Jobs of a tier waiting and in progress; undefined while no executor of the tier has attached. */
  async backlog(tier: string): Promise<TierBacklog | undefined> {
    try {
      const info = await this.jsm.consumers.info(this.options.stream, consumerName(tier));
      return { pending: info.num_pending, inProgress: info.num_ack_pending };
    } catch {
      return undefined;
    }
  }

  /** When the oldest job still in a tier's queue (waiting or in progress) was queued, epoch ms; undefined when none is. */
  async oldestQueuedAt(tier: string): Promise<number | undefined> {
    try {
      // STREAM.MSG.GET takes `next_by_subj` (the first message of a subject), which the client's type leaves out.
      const query = { seq: 0, next_by_subj: this.subjects.queue(tier) } as NextMsgRequest as unknown as MsgRequest;
      const msg = await this.jsm.streams.getMessage(this.options.stream, query);
      return msg?.time.getTime();
    } catch {
      return undefined;
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

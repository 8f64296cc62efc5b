import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JsMsg } from "@nats-io/jetstream";
import type { AsyncConfig } from "@tiermesh/config";
import { isFinal, parseQueuePayload, type JobBackend, type JobSource } from "@tiermesh/jobs";
import { JobErrorSchema, JobState, type Job, type JobError } from "@tiermesh/proto";
import type { Logger } from "@tiermesh/runtime";
import type { LoopLoad } from "./event-loop-load.js";
import { hasRoomForJob } from "./job-capacity.js";
import { executeJob } from "./job-execution.js";
import type { TierRunner } from "./tier-runner.js";

/** How often a worker without room looks again. */
const ROOM_POLL_MS = 50;
/** Longest wait of one pull for a job. */
const PULL_EXPIRES_MS = 1_000;
/** Pause after a failed pull (NATS away). */
const PULL_ERROR_PAUSE_MS = 500;
/** Redelivery delay after a failed attempt, times the delivery count. */
const RETRY_DELAY_MS = 500;
/** Errors that the same job would meet again: it fails at once, whatever deliveries are left. */
const PERMANENT = new Set([Code.InvalidArgument, Code.FailedPrecondition, Code.PermissionDenied, Code.OutOfRange, Code.Unimplemented]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const jobError = (code: Code | string, message: string): JobError =>
  create(JobErrorSchema, {
    code: typeof code === "string" ? code : Code[code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase()),
    message,
  });

/** Jobs this worker finished, by how. */
export interface JobTallies {
  succeeded: number;
  failed: number;
  expired: number;
  cancelled: number;
  deadLettered: number;
  /** Attempts that failed and were handed back for another delivery. */
  retried: number;
}

export interface JobWorkerDeps {
  tier: string;
  config: AsyncConfig;
  /** The tier's bulkhead capacity (max_concurrency), against which interactive load is measured. */
  bulkheadCapacity: number;
  runner: TierRunner;
  backend: JobBackend;
  /** Where jobs come from: the tier's queue, earliest deadline first. */
  consumer: JobSource;
  /** Longest one attempt at a job may take (the tier's attempt timeout times its attempts). */
  runTimeoutMs: number;
  /** How loaded the process's event loop is lately; jobs are taken only while it has room (see hasRoomForJob). */
  loop?: () => LoopLoad;
  logger: Logger;
}

/**
 * Takes a tier's jobs, earliest deadline first, from the consumers its executors share when the executor has room (see
 * hasRoomForJob), runs each, stores its result, and only then acknowledges it. While a job
 * runs, the worker tells the server it is still working every third of `ack_wait_ms`, and
 * stops the job if it was cancelled. A job not acknowledged (its executor died) is delivered
 * again after `ack_wait_ms`; one that failed is handed back with a delay; after
 * `max_deliveries` deliveries it fails and is kept on the tier's dead-letter subject.
 * Whatever happens, the first final state stored is the one the caller sees.
 */
export class JobWorker {
  private active = 0;
  private closing = false;
  private loop: Promise<void> | undefined;
  private readonly running = new Set<AbortController>();
  readonly tallies: JobTallies = { succeeded: 0, failed: 0, expired: 0, cancelled: 0, deadLettered: 0, retried: 0 };

  constructor(private readonly deps: JobWorkerDeps) {}

  /** Jobs being served now. */
  get inFlight(): number {
    return this.active;
  }

  start(): void {
    this.loop ??= this.pull();
  }

  /** Stops taking jobs; jobs running are stopped and handed back at once for another executor. */
  async close(): Promise<void> {
    this.closing = true;
    for (const c of this.running) c.abort(new ConnectError("executor shutting down", Code.Unavailable));
    await this.loop;
    while (this.active > 0) await sleep(10);
  }

  private hasRoom(): boolean {
    const { inFlight, queued } = this.deps.runner.load;
    return hasRoomForJob({ inFlight, queued, jobs: this.active }, this.deps.config, this.deps.bulkheadCapacity, this.deps.loop?.());
  }

  private async pull(): Promise<void> {
    while (!this.closing) {
      if (!this.hasRoom()) {
        await sleep(ROOM_POLL_MS);
        continue;
      }
      let msg: JsMsg | null;
      try {
        msg = await this.deps.consumer.next({ expires: PULL_EXPIRES_MS });
      } catch (err) {
        if (this.closing) return;
        this.deps.logger.warn({ err }, "could not pull a job; trying again");
        await sleep(PULL_ERROR_PAUSE_MS);
        continue;
      }
      if (!msg) continue;
      if (this.closing) {
        msg.nak();
        return;
      }
      this.active++;
      const m = msg;
      void this.handle(m)
        .catch((err: unknown) => {
          // The job's state could not be stored: leave it unacknowledged, to be delivered again.
          this.deps.logger.warn({ err, subject: m.subject }, "job left for redelivery: its state could not be stored");
        })
        .finally(() => this.active--);
    }
  }

  private async handle(msg: JsMsg): Promise<void> {
    const { store } = this.deps.backend;
    const { config } = this.deps;
    const ref = parseQueuePayload(msg.string());
    if (!ref) {
      this.deps.logger.warn({ subject: msg.subject }, "dropped a queue message that names no job");
      msg.term();
      return;
    }
    const delivery = msg.info.deliveryCount;
    const job = await store.get(ref.tenant, ref.id);
    // Gone (past retention) or already final (cancelled, or a late duplicate): nothing to do.
    if (!job || isFinal(job.state)) return void msg.ack();
    const now = Date.now();
    if (now > Number(job.deadlineMs)) {
      const r = await store.update(ref.tenant, ref.id, (j) =>
        final(j, JobState.EXPIRED, jobError("deadline_exceeded", "the completion window passed before the job could run")),
      );
      if (r.changed) this.tallies.expired++;
      return void msg.ack();
    }
    if (delivery > config.max_deliveries) {
      // The last delivery's executor never finished (it died or lost NATS): fail it without running it again.
      const lost = jobError("aborted", `no executor finished the job in ${config.max_deliveries} deliveries`);
      await this.deadLetter(job, job.error ?? lost);
      return void msg.ack();
    }
    if (job.state === JobState.RUNNING && now - Number(job.progressAtMs) < (config.ack_wait_ms * 2) / 3) {
      // Another executor is on it and alive (it reports every third of ack_wait): this message is a second copy.
      return void msg.ack();
    }
    const started = await store.update(ref.tenant, ref.id, (j) => ({
      ...j,
      state: JobState.RUNNING,
      attempts: delivery,
      startedAtMs: BigInt(now),
      progressAtMs: BigInt(now),
    }));
    if (!started.changed || !started.job) return void msg.ack();
    const controller = new AbortController();
    this.running.add(controller);
    const heartbeat = setInterval(
      () => {
        msg.working();
        // Progress on the record too, and a look at it: a job cancelled meanwhile is stopped.
        void store
          .update(ref.tenant, ref.id, (j) => (j.state === JobState.RUNNING ? { ...j, progressAtMs: BigInt(Date.now()) } : undefined))
          .then(
            ({ job: j }) => {
              if (j && isFinal(j.state))
                controller.abort(new ConnectError(`job ${j.id} is ${JobState[j.state].toLowerCase()}`, Code.Canceled));
            },
            () => undefined,
          );
      },
      Math.max(100, Math.floor(config.ack_wait_ms / 3)),
    );
    try {
      const deadline = Math.min(Number(job.deadlineMs), Date.now() + this.deps.runTimeoutMs);
      const result = await executeJob(this.deps.runner, started.job, { deadline, signal: controller.signal });
      // Stored before the acknowledgement: a crash in between delivers the job again, and the second finish changes nothing.
      const r = await store.update(ref.tenant, ref.id, (j) => ({ ...final(j, JobState.SUCCEEDED), result, error: undefined }));
      if (r.changed) this.tallies.succeeded++;
      msg.ack();
    } catch (cause) {
      await this.failed(msg, started.job, delivery, controller.signal, cause);
    } finally {
      clearInterval(heartbeat);
      this.running.delete(controller);
    }
  }

  private async failed(msg: JsMsg, job: Job, delivery: number, signal: AbortSignal, cause: unknown): Promise<void> {
    const { store } = this.deps.backend;
    const err = ConnectError.from(signal.aborted ? signal.reason : cause);
    if (signal.aborted && err.code === Code.Canceled) {
      // Cancelled (or otherwise made final) while running.
      this.tallies.cancelled++;
      return void msg.ack();
    }
    const error = jobError(err.code, err.rawMessage);
    if (this.closing && signal.aborted) {
      await store.update(job.tenant, job.id, (j) => ({ ...j, state: JobState.QUEUED }));
      return void msg.nak();
    }
    if (PERMANENT.has(err.code) || delivery >= this.deps.config.max_deliveries) {
      await this.deadLetter(job, error);
      return void msg.ack();
    }
    await store.update(job.tenant, job.id, (j) => ({ ...j, state: JobState.QUEUED, error }));
    this.tallies.retried++;
    msg.nak(RETRY_DELAY_MS * delivery);
  }

  /** Fails a job for good and keeps it on the tier's dead-letter subject. */
  private async deadLetter(job: Job, error: JobError): Promise<void> {
    const { store, queue } = this.deps.backend;
    const r = await store.update(job.tenant, job.id, (j) => final(j, JobState.FAILED, error));
    if (!r.changed || !r.job) return;
    this.tallies.failed++;
    await queue.deadLetter(r.job);
    this.tallies.deadLettered++;
    this.deps.logger.warn(
      { job: job.id, tenant: job.tenant, attempts: r.job.attempts, code: error.code, error: error.message },
      "job failed; kept on the dead-letter subject",
    );
  }
}

function final(job: Job, state: JobState, error?: JobError): Job {
  return { ...job, state, finishedAtMs: BigInt(Date.now()), ...(error ? { error } : {}) };
}

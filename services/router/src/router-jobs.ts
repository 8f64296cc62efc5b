import type { NatsConnection } from "@nats-io/transport-node";
import type { Config } from "@tiermesh/config";
import {
  asyncTiers,
  BacklogSampler,
  openBatchRecords,
  openFileStore,
  openJobBackend,
  type BatchRecord,
  type FileStore,
  type JobBackend,
  type JsonRecords,
} from "@tiermesh/jobs";
import type { Logger } from "@tiermesh/runtime";

/**
 * What the router keeps of asynchronous jobs on NATS: the jobs stream and bucket, the Batch
 * API's files and batch records, and each async tier's sampled backlog. Opened at the first
 * (re)connect, and only when some tier takes jobs; until then every getter is undefined.
 */
export class RouterJobs {
  readonly sampler: BacklogSampler;
  private opened: { jobs: JobBackend; files: FileStore; batches: JsonRecords<BatchRecord> } | undefined;
  private opening = false;

  constructor(
    private readonly config: Config,
    private readonly logger: Logger,
  ) {
    this.sampler = new BacklogSampler(asyncTiers(config));
  }

  get jobs(): JobBackend | undefined {
    return this.opened?.jobs;
  }

  get files(): FileStore | undefined {
    return this.opened?.files;
  }

  get batches(): JsonRecords<BatchRecord> | undefined {
    return this.opened?.batches;
  }

  /** Opens everything on `nc` unless it is open (or no tier takes jobs); called at every (re)connect. */
  attach(nc: NatsConnection): void {
    if (this.opened || this.opening || this.sampler.tiers.length === 0) return;
    this.opening = true;
    const { config } = this;
    Promise.all([openJobBackend(nc, config), openFileStore(nc, config), openBatchRecords(nc, config)])
      .then(([jobs, files, batches]) => {
        this.opened = { jobs, files, batches };
        this.sampler.attach(jobs.queue);
      })
      .catch((err: unknown) =>
        this.logger.error({ err }, "could not open the job stream and buckets; jobs are refused until NATS reconnects"),
      )
      .finally(() => (this.opening = false));
  }

  close(): void {
    this.sampler.close();
  }
}

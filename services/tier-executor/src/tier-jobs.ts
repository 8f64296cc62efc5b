import type { Config } from "@tiermesh/config";
import { BacklogSampler, openJobBackend, type DeadlineConsumer } from "@tiermesh/jobs";
import type { Logger, Registry } from "@tiermesh/runtime";
import type { NatsLink } from "@tiermesh/tier-status";
import { registerExecutorJobMetrics } from "./job-metrics.js";
import { EventLoopLoad } from "./event-loop-load.js";
import { JobWorker } from "./job-worker.js";
import type { TierRunner } from "./tier-runner.js";

export interface TierJobsDeps {
  config: Config;
  tierName: string;
  link: NatsLink;
  runner: TierRunner;
  /** The executor's registry, to which the job metrics are added. */
  metrics: Registry;
  /** Longest one attempt at a job may take. */
  runTimeoutMs: number;
  logger: Logger;
}

/**
 * The job side of an async tier's executor: once NATS answers, opens the jobs stream and
 * bucket, joins the tier's shared consumer and starts a JobWorker; samples the tier's backlog
 * for /metrics. Without NATS the executor serves interactive requests as ever.
 */
export class TierJobs {
  private worker: JobWorker | undefined;
  private consumer: DeadlineConsumer | undefined;
  private closed = false;
  private readonly sampler: BacklogSampler;
  private readonly loop = new EventLoopLoad();

  constructor(private readonly deps: TierJobsDeps) {
    this.sampler = new BacklogSampler([deps.tierName]);
    registerExecutorJobMetrics(deps.metrics, () => this.worker, this.sampler);
    void this.attach().catch((err: unknown) =>
      deps.logger.error({ err }, "could not attach to the job queue; this executor takes no jobs"),
    );
  }

  private async attach(): Promise<void> {
    const { config, tierName, logger } = this.deps;
    const tier = config.tiers[tierName]!;
    const nc = await this.deps.link.ready;
    const backend = await openJobBackend(nc, config);
    // One delivery more than max_deliveries: the last one fails a job whose executor died on its final attempt.
    const consumer = backend.queue.consumer({
      tier: tierName,
      maxDeliver: tier.async.max_deliveries + 1,
      ackWaitMs: tier.async.ack_wait_ms,
    });
    this.consumer = consumer;
    if (this.closed) return consumer.close();
    this.sampler.attach(backend.queue);
    this.worker = new JobWorker({
      tier: tierName,
      config: tier.async,
      bulkheadCapacity: tier.bulkhead.max_concurrency,
      runner: this.deps.runner,
      backend,
      consumer,
      runTimeoutMs: this.deps.runTimeoutMs,
      loop: () => this.loop.load,
      logger,
    });
    this.loop.start();
    this.worker.start();
    logger.info({ maxConcurrency: tier.async.max_concurrency }, "taking asynchronous jobs");
  }

  /** Stops taking jobs; running ones are handed back for another executor. */
  async close(): Promise<void> {
    this.closed = true;
    this.sampler.close();
    this.loop.stop();
    await this.worker?.close();
    this.consumer?.close();
  }
}

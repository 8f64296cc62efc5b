import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Config } from "@tiermesh/config";
import { newJobId, type JobBackend } from "@tiermesh/jobs";
import {
  JobErrorSchema,
  JobSchema,
  JobState,
  SubmittedJobSchema,
  type CompletionInput,
  type Job,
  type JobSpec,
  type SubmittedJob,
} from "@tiermesh/proto";
import type { Placement } from "./router-core.js";

const MAX_JOBS_PER_CALL = 1_000;
const MAX_IDEMPOTENCY_KEY = 256;
const HOUR_MS = 3_600_000;
const SUBMIT_PARALLEL = 32;

/** A job checked and classified, not yet stored. */
export interface PlacedSpec {
  spec: JobSpec;
  placement: Placement;
  windowMs: number;
}

export interface JobIntakeDeps {
  tiers: Config["tiers"];
  /** The tenant of a caller's API key, or throws UNAUTHENTICATED (see RouterCore.tenantOf). */
  tenantOf: (authorization: string | null) => string;
  /** Classifies a request of a tenant (see RouterCore.placeFor). */
  placeFor: (tenant: string, input: CompletionInput) => Placement;
  /** Told of every job submitted (a duplicate: its idempotency key named an earlier job). */
  onSubmitted?: (tier: string, duplicate: boolean) => void;
}

/**
 * Accepts jobs: every job of a call is checked and classified before any is stored, so a
 * refused job (bad input, a tier that takes no jobs) leaves nothing queued. Then each is
 * stored and queued once per idempotency key: a key seen before returns its job.
 */
export class JobIntake {
  constructor(private readonly deps: JobIntakeDeps) {}

  /** Checks and classifies every job; throws the first refusal, naming the job. */
  check(authorization: string | null, specs: readonly JobSpec[]): PlacedSpec[] {
    if (specs.length === 0) throw new ConnectError("jobs: at least one job is required", Code.InvalidArgument);
    if (specs.length > MAX_JOBS_PER_CALL) throw new ConnectError(`jobs: at most ${MAX_JOBS_PER_CALL} per call`, Code.InvalidArgument);
    return specs.map((spec, i) => this.checkOne(authorization, spec, `jobs[${i}]`));
  }

  /** Authenticates the caller, then checks and classifies one job; `at` names it in a refusal. */
  checkOne(authorization: string | null, spec: JobSpec, at: string): PlacedSpec {
    return this.checkFor(this.deps.tenantOf(authorization), spec, at);
  }

  /**
   * Checks and classifies one job of `tenant`, without a caller's key: for work an
   * authenticated caller left stored (a batch resumed in the background), whose record names
   * its tenant. Never for a tenant named by a request.
   */
  checkFor(tenant: string, spec: JobSpec, at: string): PlacedSpec {
    if (spec.idempotencyKey === "") throw new ConnectError(`${at}.idempotency_key: required`, Code.InvalidArgument);
    if (spec.idempotencyKey.length > MAX_IDEMPOTENCY_KEY)
      throw new ConnectError(`${at}.idempotency_key: at most ${MAX_IDEMPOTENCY_KEY} characters`, Code.InvalidArgument);
    if (!spec.input || spec.input.messages.length === 0)
      throw new ConnectError(`${at}.input.messages: at least one message is required`, Code.InvalidArgument);
    // Work submitted as a job can wait: unless it says otherwise, its urgency is "batch".
    const input = spec.input.urgency === "" ? { ...spec.input, urgency: "batch" } : spec.input;
    const placement = this.deps.placeFor(tenant, input);
    const tier = this.deps.tiers[placement.tier];
    if (!tier?.async.enabled) {
      throw new ConnectError(
        `${at}: tier "${placement.tier}" does not take asynchronous jobs (tiers.${placement.tier}.async.enabled is false)`,
        Code.FailedPrecondition,
      );
    }
    const retentionMs = tier.async.retention_hours * HOUR_MS;
    const windowMs = spec.completionWindowSeconds === 0 ? retentionMs : spec.completionWindowSeconds * 1_000;
    if (windowMs > retentionMs) {
      throw new ConnectError(
        `${at}.completion_window_seconds: tier "${placement.tier}" keeps jobs ${tier.async.retention_hours} h at most`,
        Code.InvalidArgument,
      );
    }
    return { spec: { ...spec, input }, placement, windowMs };
  }

  /** Stores and queues checked jobs, in order. */
  async submit(backend: JobBackend, placed: readonly PlacedSpec[]): Promise<SubmittedJob[]> {
    const out: SubmittedJob[] = [];
    // A few at a time: each job is a handful of round trips to NATS.
    for (let i = 0; i < placed.length; i += SUBMIT_PARALLEL) {
      out.push(...(await Promise.all(placed.slice(i, i + SUBMIT_PARALLEL).map((p) => this.submitOne(backend, p)))));
    }
    for (const s of out) this.deps.onSubmitted?.(s.job?.tier ?? "", s.duplicate);
    return out;
  }

  private async submitOne({ store, queue }: JobBackend, { spec, placement, windowMs }: PlacedSpec): Promise<SubmittedJob> {
    const { tenant } = placement;
    const id = await store.claim(tenant, spec.idempotencyKey, newJobId());
    const existing = await store.get(tenant, id);
    if (existing) {
      // A first submission may have stopped between storing its job and queuing it: queue it
      // again while it waits (a second copy is dropped by whichever executor sees the job taken).
      if (existing.state === JobState.QUEUED && existing.attempts === 0) await queue.enqueue(existing);
      return create(SubmittedJobSchema, { job: existing, duplicate: true });
    }
    // Either a new key, or one whose first submission stopped before storing its job: store it now.
    const now = Date.now();
    const job: Job = create(JobSchema, {
      id,
      tenant,
      tier: placement.tier,
      state: JobState.QUEUED,
      input: spec.input,
      idempotencyKey: spec.idempotencyKey,
      metadata: spec.metadata,
      createdAtMs: BigInt(now),
      deadlineMs: BigInt(now + windowMs),
      promptTokens: placement.promptTokens,
      reasons: placement.reasons,
    });
    if (!(await store.create(job))) {
      // A concurrent submission of the same key stored it first.
      const stored = await store.get(tenant, id);
      if (stored) return create(SubmittedJobSchema, { job: stored, duplicate: true });
    }
    try {
      await queue.enqueue(job);
    } catch (cause) {
      // Not queued: free the key, so the caller's retry queues it.
      const error = create(JobErrorSchema, { code: "unavailable", message: "could not be queued" });
      await store
        .update(tenant, id, (j) => ({ ...j, state: JobState.FAILED, finishedAtMs: BigInt(Date.now()), error }))
        .catch(() => undefined);
      await store.release(tenant, spec.idempotencyKey).catch(() => undefined);
      throw new ConnectError(`job ${id}: could not be queued; submit it again`, Code.Unavailable, undefined, undefined, cause);
    }
    return create(SubmittedJobSchema, { job, duplicate: false });
  }
}

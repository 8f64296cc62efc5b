import { Code, ConnectError } from "@connectrpc/connect";
import {
  BATCH_EXPIRED,
  batchCounts,
  expireOpenJobs,
  finishBatch,
  forBatchJobs,
  isOpenBatch,
  newBatchId,
  newFileId,
  readBatchJobs,
  windowPassed,
  type BatchRecord,
  type FileStore,
  type JobBackend,
  type JsonRecords,
  type LineError,
  type StoredFile,
} from "@tiermesh/jobs";
import { JobState, type JobSpec } from "@tiermesh/proto";
import { BATCH_ENDPOINT, readBatchLines } from "./batch-lines.js";
import { EdgeError } from "./edge-error.js";
import type { JobIntake, PlacedSpec } from "./job-intake.js";

const WINDOW_SECONDS = 24 * 3_600;
/** A batch is looked at again (its jobs read) at most this often per router. */
const REFRESH_MS = 1_000;
/** Lines queued between two records of a validation's progress (at most). */
const CHUNK_LINES = 256;

export interface BatchDeskDeps {
  intake: JobIntake;
  tenantOf: (authorization: string | null) => string;
  jobs: () => JobBackend | undefined;
  files: () => FileStore | undefined;
  batches: () => JsonRecords<BatchRecord> | undefined;
  /**
   * A batch still validating with no progress recorded for this long, and not by this router,
   * was left by a router that stopped: it is resumed. Its validating router records progress
   * at least every third of this.
   */
  orphanMs: number;
  onError: (err: unknown) => void;
  /** Told of every batch this router resumes: `by` is "request" (a caller asked for it) or "sweep". */
  onResumed?: (batch: BatchRecord, by: "request" | "sweep") => void;
}

/** Checks and classifies one line's job; throws its refusal. */
type LineCheck = (spec: JobSpec, at: string) => PlacedSpec;

const nowS = () => Math.floor(Date.now() / 1_000);

/**
 * The OpenAI Batch API over jobs: a batch's lines become jobs (one per custom_id, queued
 * like any job), its status and counts are read from its jobs when asked, and once every job
 * is final (or its window passed) its output and error files are written and the batch ends.
 * The leading health monitor ends batches in the background too (BatchFinaliser); whoever
 * does it first, it is done once (the batch record changes by compare-and-set).
 */
export class BatchDesk {
  private readonly validating = new Set<string>();
  private readonly refreshedAt = new Map<string, number>();
  /** Batches seen past validating (a status never goes back to it): the sweep skips them. */
  private readonly validated = new Set<string>();

  constructor(private readonly deps: BatchDeskDeps) {}

  private need<T>(what: string, value: T | undefined): T {
    if (value === undefined)
      throw new ConnectError(
        `${what}: the job store (NATS JetStream) is not reachable yet, or no tier takes asynchronous jobs`,
        Code.Unavailable,
      );
    return value;
  }

  async upload(authorization: string | null, filename: string, purpose: string, data: Uint8Array): Promise<StoredFile> {
    const tenant = this.deps.tenantOf(authorization);
    if (purpose !== "batch") throw new EdgeError(400, `purpose: only "batch" is supported`, "purpose", "invalid_value");
    return this.need("files", this.deps.files()).put({ id: newFileId(), tenant, filename, purpose }, data);
  }

  async file(authorization: string | null, id: string): Promise<StoredFile> {
    const tenant = this.deps.tenantOf(authorization);
    const file = await this.need("files", this.deps.files()).info(tenant, id);
    if (!file) throw new EdgeError(404, `No such File object: ${id}`, "id", "not_found");
    return file;
  }

  async content(authorization: string | null, id: string): Promise<Uint8Array> {
    const tenant = this.deps.tenantOf(authorization);
    const data = await this.need("files", this.deps.files()).content(tenant, id);
    if (!data) throw new EdgeError(404, `No such File object: ${id}`, "id", "not_found");
    return data;
  }

  async create(
    authorization: string | null,
    body: { input_file_id: string; endpoint: string; completion_window: string; metadata?: Record<string, string> | null | undefined },
  ): Promise<BatchRecord> {
    const tenant = this.deps.tenantOf(authorization);
    if (body.endpoint !== BATCH_ENDPOINT)
      throw new EdgeError(400, `endpoint: only ${BATCH_ENDPOINT} is supported`, "endpoint", "invalid_value");
    if (body.completion_window !== "24h")
      throw new EdgeError(400, `completion_window: only "24h" is supported`, "completion_window", "invalid_value");
    const input = await this.need("files", this.deps.files()).info(tenant, body.input_file_id);
    if (!input) throw new EdgeError(404, `No such File object: ${body.input_file_id}`, "input_file_id", "not_found");
    const id = newBatchId();
    const created = nowS();
    const record: BatchRecord = {
      id,
      tenant,
      endpoint: body.endpoint,
      input_file_id: body.input_file_id,
      completion_window: body.completion_window,
      status: "validating",
      created_at: created,
      expires_at: created + WINDOW_SECONDS,
      in_progress_at: null,
      finalizing_at: null,
      completed_at: null,
      failed_at: null,
      expired_at: null,
      cancelling_at: null,
      cancelled_at: null,
      validated_at: null,
      output_file_id: null,
      error_file_id: null,
      metadata: body.metadata ?? null,
      total: 0,
      jobs: [],
      line_errors: [],
      errors: [],
      completed: 0,
      failed: 0,
    };
    await this.need("batches", this.deps.batches()).create(tenant, id, record);
    this.startValidating(record, (spec, at) => this.deps.intake.checkOne(authorization, spec, at));
    return record;
  }

  async get(authorization: string | null, id: string): Promise<BatchRecord> {
    const tenant = this.deps.tenantOf(authorization);
    const batch = await this.need("batches", this.deps.batches()).get(tenant, id);
    if (!batch) throw new EdgeError(404, `No such Batch object: ${id}`, "batch_id", "not_found");
    return this.refresh(batch);
  }

  async list(authorization: string | null, after: string | undefined, limit: number): Promise<{ data: BatchRecord[]; hasMore: boolean }> {
    const tenant = this.deps.tenantOf(authorization);
    const store = this.need("batches", this.deps.batches());
    const ids = (await store.ids(tenant)).filter((id) => after === undefined || id < after);
    const page = ids.slice(0, limit);
    const data: BatchRecord[] = [];
    for (const id of page) {
      const b = await store.get(tenant, id);
      if (b) data.push(await this.refresh(b));
    }
    return { data, hasMore: ids.length > limit };
  }

  async cancel(authorization: string | null, id: string): Promise<BatchRecord> {
    const batch = await this.get(authorization, id);
    if (batch.status !== "validating" && batch.status !== "in_progress") return batch;
    const updated = await this.need("batches", this.deps.batches()).update(batch.tenant, id, (b) =>
      b.status === "validating" || b.status === "in_progress" ? { ...b, status: "cancelling", cancelling_at: nowS() } : undefined,
    );
    await this.cancelJobs(updated ?? batch);
    this.refreshedAt.delete(id);
    return this.refresh(updated ?? batch);
  }

  private async cancelJobs(batch: BatchRecord): Promise<void> {
    const { store } = this.need("jobs", this.deps.jobs());
    await forBatchJobs(batch, async (jobId) => {
      await store.update(batch.tenant, jobId, (j) => ({ ...j, state: JobState.CANCELLED, finishedAtMs: BigInt(Date.now()) }));
    });
  }

  /**
   * Resumes every batch left validating by a router that stopped (see `orphanMs`), without a
   * caller: each line is classified for the tenant the batch record names (the caller that
   * created it was authenticated then). Several routers may resume one batch at once: each
   * line's job is claimed by its idempotency key, so every custom_id is one job whoever queues
   * it, and the record is written by compare-and-set. Returns the batches resumed now.
   */
  async resumeOrphans(now = Date.now()): Promise<BatchRecord[]> {
    const store = this.deps.batches();
    if (!store || !this.deps.jobs() || !this.deps.files()) return [];
    const resumed: BatchRecord[] = [];
    for (const { tenant, id } of await store.all()) {
      if (this.validated.has(id) || this.validating.has(id)) continue;
      const batch = await store.get(tenant, id);
      if (!batch) continue;
      if (batch.status !== "validating") this.validated.add(id);
      else if (this.orphaned(batch, now)) {
        this.resume(batch, "sweep");
        resumed.push(batch);
      }
    }
    return resumed;
  }

  private orphaned(batch: BatchRecord, now = Date.now()): boolean {
    const progress = Math.max(batch.created_at, batch.validated_at ?? 0) * 1_000;
    return batch.status === "validating" && !this.validating.has(batch.id) && now - progress > this.deps.orphanMs;
  }

  private resume(batch: BatchRecord, by: "request" | "sweep"): void {
    this.deps.onResumed?.(batch, by);
    this.startValidating(batch, (spec, at) => this.deps.intake.checkFor(batch.tenant, spec, at));
  }

  private startValidating(batch: BatchRecord, check: LineCheck): void {
    this.validating.add(batch.id);
    this.validate(batch, check)
      .catch(async (cause: unknown) => {
        this.deps.onError(cause);
        // The batch as a whole cannot go on (its input file is gone, say): it fails, saying why.
        const err = ConnectError.from(cause);
        await this.deps
          .batches()
          ?.update(batch.tenant, batch.id, (b) =>
            b.status === "validating"
              ? { ...b, status: "failed", failed_at: nowS(), errors: [{ code: Code[err.code] ?? "internal", message: err.rawMessage }] }
              : undefined,
          );
      })
      .catch((err: unknown) => this.deps.onError(err))
      .finally(() => this.validating.delete(batch.id));
  }

  /**
   * Turns the input file's lines into jobs; idempotent (each line's key is its batch and
   * custom_id), so a resumed validation queues nothing twice. Records its progress on the
   * batch as it goes, so other routers leave it alone while it lives. A batch whose window
   * passed before it was resumed queues nothing more: it ends expired (see `expireUnqueued`).
   */
  private async validate(batch: BatchRecord, check: LineCheck): Promise<void> {
    const files = this.need("files", this.deps.files());
    const backend = this.need("jobs", this.deps.jobs());
    const store = this.need("batches", this.deps.batches());
    const data = await files.content(batch.tenant, batch.input_file_id);
    if (!data) throw new ConnectError(`input_file_id: file ${batch.input_file_id} is no longer kept`, Code.NotFound);
    const text = new TextDecoder().decode(data);
    // Jobs end by the batch's deadline, however late their lines are queued.
    const read = readBatchLines(text, batch.id, Math.max(1, Math.min(WINDOW_SECONDS, batch.expires_at - nowS())));
    if (windowPassed(batch)) return this.expireUnqueued(batch, read);
    const errors: LineError[] = [...read.errors];
    const placed: { customId: string; placed: PlacedSpec }[] = [];
    for (const l of read.lines) {
      try {
        placed.push({ customId: l.customId, placed: check(l.spec, `line ${l.line}`) });
      } catch (cause) {
        const err = ConnectError.from(cause);
        errors.push({
          line: l.line,
          custom_id: l.customId,
          code: err.code === Code.FailedPrecondition ? "tier_refused" : "invalid_request",
          message: err.rawMessage,
        });
      }
    }
    const submitted = [];
    // Progress is recorded before the first lines are queued too: a resumed batch is then left to this router.
    let recordedAt = 0;
    for (let i = 0; i < placed.length; i += CHUNK_LINES) {
      if (Date.now() - recordedAt > this.deps.orphanMs / 3) {
        recordedAt = Date.now();
        await store.update(batch.tenant, batch.id, (b) => (b.status === "validating" ? { ...b, validated_at: nowS() } : undefined));
      }
      const chunk = placed.slice(i, i + CHUNK_LINES).map((p) => p.placed);
      submitted.push(...(await this.deps.intake.submit(backend, chunk)));
    }
    const jobs = submitted.map((s, i) => ({ custom_id: placed[i]!.customId, job_id: s.job!.id }));
    errors.sort((a, b) => a.line - b.line);
    const after = await queued(store, batch, read.total, jobs, errors);
    // Cancelled while its lines were being queued: cancel the jobs just queued too.
    if (after?.status === "cancelling") await this.cancelJobs(after);
  }

  /**
   * Ends a batch whose completion window passed while it was validating, as OpenAI does: the
   * lines already queued keep their jobs (expired unless final, the finished ones in the
   * output file), the others go to the error file as `batch_expired`; nothing more is queued.
   */
  private async expireUnqueued(batch: BatchRecord, read: ReturnType<typeof readBatchLines>): Promise<void> {
    const backend = this.need("jobs", this.deps.jobs());
    const store = this.need("batches", this.deps.batches());
    const errors: LineError[] = [...read.errors];
    const jobs: BatchRecord["jobs"] = [];
    for (const l of read.lines) {
      const jobId = await backend.store.find(batch.tenant, l.spec.idempotencyKey);
      if (jobId) jobs.push({ custom_id: l.customId, job_id: jobId });
      else
        errors.push({
          line: l.line,
          custom_id: l.customId,
          code: BATCH_EXPIRED,
          message: "the batch's completion window passed before the request was queued",
        });
    }
    errors.sort((a, b) => a.line - b.line);
    const after = await queued(store, batch, read.total, jobs, errors);
    if (!after || !isOpenBatch(after)) return;
    const stored = await expireOpenJobs(backend.store, after, await readBatchJobs(backend.store, after));
    await finishBatch({ jobs: backend.store, files: this.need("files", this.deps.files()), batches: store }, after, stored);
  }

  /** Reads the batch's jobs (at most once per REFRESH_MS) and ends it when all are final or its window passed. */
  private async refresh(batch: BatchRecord): Promise<BatchRecord> {
    if (batch.status === "validating") {
      if (this.orphaned(batch)) this.resume(batch, "request");
      return batch;
    }
    if (!isOpenBatch(batch)) return batch;
    const last = this.refreshedAt.get(batch.id) ?? 0;
    if (Date.now() - last < REFRESH_MS) return batch;
    this.refreshedAt.set(batch.id, Date.now());
    const backend = this.need("jobs", this.deps.jobs());
    let jobs = await readBatchJobs(backend.store, batch);
    if (windowPassed(batch)) jobs = await expireOpenJobs(backend.store, batch, jobs);
    const { succeeded, failed, allFinal } = batchCounts(batch, jobs);
    const store = this.need("batches", this.deps.batches());
    if (!allFinal) {
      if (succeeded === batch.completed && failed === batch.failed) return batch;
      return (
        (await store.update(batch.tenant, batch.id, (b) =>
          b.status === batch.status ? { ...b, completed: succeeded, failed } : undefined,
        )) ?? batch
      );
    }
    return finishBatch({ jobs: backend.store, files: this.need("files", this.deps.files()), batches: store }, batch, jobs);
  }
}

/**
 * Records a batch's lines as queued (their jobs and the lines refused): `in_progress`, or still
 * `cancelling` if it was cancelled meanwhile; undefined when it had moved on already.
 */
function queued(
  store: JsonRecords<BatchRecord>,
  batch: BatchRecord,
  total: number,
  jobs: BatchRecord["jobs"],
  errors: LineError[],
): Promise<BatchRecord | undefined> {
  return store.update(batch.tenant, batch.id, (b) =>
    b.status === "validating" || b.status === "cancelling"
      ? {
          ...b,
          status: b.status === "validating" ? "in_progress" : b.status,
          in_progress_at: nowS(),
          total,
          jobs,
          line_errors: errors,
          failed: errors.length,
        }
      : undefined,
  );
}

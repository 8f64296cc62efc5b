import { createHash, randomBytes } from "node:crypto";

/**
 * Where jobs live on NATS. `prefix` is `nats.subject_prefix`.
 *
 * - `<prefix>.jobs.due.<tier>.<band>` a job waiting for the tier's executors (its key as
 *   payload), `<band>` being its deadline floored to the tier's band width, in epoch seconds;
 * - `<prefix>.jobs.queue.<tier>`      a job queued before deadline bands (by an older router);
 * - `<prefix>.jobs.dead.<tier>`       a job that failed on its last delivery (the Job, protobuf).
 *
 * All are kept by the jobs stream; the tier's executors consume the first two.
 */
export interface JobSubjects {
  due(tier: string, band: number): string;
  /** Every band of a tier. */
  dueAll(tier: string): string;
  legacy(tier: string): string;
  dead(tier: string): string;
  /** The band of a `due` subject, or undefined for any other subject. */
  bandOf(subject: string): number | undefined;
  readonly all: string[];
}

export function jobSubjects(prefix: string): JobSubjects {
  const due = `${prefix}.jobs.due.`;
  return {
    due: (tier, band) => `${due}${tier}.${band}`,
    dueAll: (tier) => `${due}${tier}.*`,
    legacy: (tier) => `${prefix}.jobs.queue.${tier}`,
    dead: (tier) => `${prefix}.jobs.dead.${tier}`,
    bandOf(subject) {
      if (!subject.startsWith(due)) return undefined;
      const band = Number(subject.slice(subject.lastIndexOf(".") + 1));
      return Number.isSafeInteger(band) ? band : undefined;
    },
    all: [`${prefix}.jobs.queue.*`, `${prefix}.jobs.due.*.*`, `${prefix}.jobs.dead.*`],
  };
}

/** Durable name of the pull consumer of a tier's jobs queued before deadline bands. */
export const consumerName = (tier: string) => `jobs-${tier}`;

/** Durable name of the pull consumer of one deadline band of a tier, shared by the tier's executors. */
export const bandConsumerName = (tier: string, band: number) => `jobs-${tier}-due-${band}`;

/** The band (epoch seconds) of a deadline: the deadline floored to the band width. */
export function deadlineBand(deadlineMs: number, bandSeconds: number): number {
  const s = Math.floor(Math.max(0, deadlineMs) / 1_000);
  return s - (s % bandSeconds);
}

/**
 * A new job id: the time in ms (base 36, fixed width) then randomness, so ids sort by
 * submission time and listing newest first is a sort of keys.
 */
export function newJobId(now = Date.now()): string {
  return `job_${now.toString(36).padStart(10, "0")}${randomBytes(8).toString("hex")}`;
}

const JOB_ID = /^job_[0-9a-z]{10}[0-9a-f]{16}$/;

export const isJobId = (id: string) => JOB_ID.test(id);

/** KV key of a job's record; the tenant is part of it, so a tenant reaches only its own jobs. */
export const jobKey = (tenant: string, id: string) => `jobs.${tenant}.${id}`;

/** KV key pattern of every job of a tenant. */
export const tenantJobs = (tenant: string) => `jobs.${tenant}.*`;

/** KV key holding the job id an idempotency key was first used for (keys are hashed: any text is allowed). */
export const idempotencyKey = (tenant: string, key: string) =>
  `idem.${tenant}.${createHash("sha256").update(key).digest("hex").slice(0, 40)}`;

/** The payload of a queue message: which job to run. */
export const queuePayload = (tenant: string, id: string) => `${tenant}/${id}`;

export function parseQueuePayload(text: string): { tenant: string; id: string } | undefined {
  const [tenant, id, ...rest] = text.split("/");
  if (!tenant || !id || rest.length > 0 || !isJobId(id)) return undefined;
  return { tenant, id };
}

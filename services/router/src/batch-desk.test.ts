import { Code, ConnectError } from "@connectrpc/connect";
import { parseConfig } from "@tiermesh/config";
import {
  newBatchId,
  newFileId,
  openBatchRecords,
  openFileStore,
  openJobBackend,
  type BatchRecord,
  type FileStore,
  type JobBackend,
  type JsonRecords,
} from "@tiermesh/jobs";
import { create } from "@bufbuild/protobuf";
import { CompleteResponseSchema, JobState } from "@tiermesh/proto";
import { beforeAll, describe, expect, it } from "vitest";
import { BatchDesk } from "./batch-desk.js";
import { readBatchLines } from "./batch-lines.js";
import { JobIntake } from "./job-intake.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

const config = parseConfig(
  `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 2, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 3, output_per_mtok: 3 } }] }
  bronze: { rank: 1, executor: { listen: "127.0.0.1:7412" }, models: [{ provider: sim, model: b, price: { input_per_mtok: 1, output_per_mtok: 1 } }], async: { enabled: true, retention_hours: 48 } }
plans: { p: { default_tier: gold, max_tier: gold } }
`,
  "t.yaml",
  {},
);
const ORPHAN_MS = 5_000;

// A real nats-server (never a mocked broker); desks and intake in memory, as a router holds them.
let jobs: JobBackend;
let files: FileStore;
let batches: JsonRecords<BatchRecord>;

const nats = useNatsServer();
beforeAll(async () => {
  [jobs, files, batches] = await Promise.all([
    openJobBackend(nats.nc, config),
    openFileStore(nats.nc, config),
    openBatchRecords(nats.nc, config),
  ]);
});

/** A desk as one router holds it; no caller's key ever reaches it (resuming uses the batch's tenant). */
function desk() {
  const submitted: boolean[] = [];
  const resumed: string[] = [];
  const intake = new JobIntake({
    tiers: config.tiers,
    tenantOf: () => {
      throw new ConnectError("no API key on this path", Code.Unauthenticated);
    },
    // Tenant "ghost" has no plan (removed from the config): refused, as RouterCore.placeFor does.
    placeFor: (tenant) => {
      if (tenant === "ghost") throw new ConnectError(`unknown tenant "${tenant}"`, Code.Unauthenticated);
      return { tenant, tier: "bronze", promptTokens: 2, reasons: [`plan of ${tenant}`] };
    },
    onSubmitted: (_tier, duplicate) => submitted.push(duplicate),
  });
  const d = new BatchDesk({
    intake,
    tenantOf: () => "unused",
    jobs: () => jobs,
    files: () => files,
    batches: () => batches,
    orphanMs: ORPHAN_MS,
    onError: (err) => {
      throw err;
    },
    onResumed: (b) => resumed.push(b.id),
  });
  return { desk: d, intake, submitted, resumed };
}

const line = (id: string) =>
  JSON.stringify({
    custom_id: id,
    method: "POST",
    url: "/v1/chat/completions",
    body: { model: "auto", messages: [{ role: "user", content: id }] },
  });

/** A batch left `validating` by a router that stopped, created `ageS` seconds ago (60 by default). */
async function orphan(tenant: string, lines: string[], opts: { ageS?: number; expiresInS?: number; validatedAgoS?: number } = {}) {
  const input = await files.put(
    { id: newFileId(), tenant, filename: "in.jsonl", purpose: "batch" },
    new TextEncoder().encode(lines.join("\n")),
  );
  const now = Math.floor(Date.now() / 1_000);
  const created = now - (opts.ageS ?? 60);
  const id = newBatchId();
  const record: BatchRecord = {
    id,
    tenant,
    endpoint: "/v1/chat/completions",
    input_file_id: input.id,
    completion_window: "24h",
    status: "validating",
    created_at: created,
    expires_at: now + (opts.expiresInS ?? 3_600),
    in_progress_at: null,
    finalizing_at: null,
    completed_at: null,
    failed_at: null,
    expired_at: null,
    cancelling_at: null,
    cancelled_at: null,
    validated_at: opts.validatedAgoS === undefined ? null : now - opts.validatedAgoS,
    output_file_id: null,
    error_file_id: null,
    metadata: null,
    total: 0,
    jobs: [],
    line_errors: [],
    errors: [],
    completed: 0,
    failed: 0,
  };
  await batches.create(tenant, id, record);
  return record;
}

async function until<T>(what: string, f: () => Promise<T | undefined> | T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The tenant's jobs that belong to a batch, from the bucket itself. */
async function jobsOf(tenant: string, batchId: string) {
  const all = await Promise.all((await jobs.store.ids(tenant)).map((id) => jobs.store.get(tenant, id)));
  return all.filter((j) => j?.metadata["batch_id"] === batchId);
}

describe("BatchDesk resuming batches left validating", () => {
  it("two routers resuming one batch at once queue every custom_id exactly once, classified for the batch's tenant", async () => {
    const N = 600;
    const lines = Array.from({ length: N }, (_, i) => line(`r-${i}`));
    lines.splice(300, 0, "{ not json");
    const batch = await orphan("acme", lines);
    // Some lines were queued before the first router stopped.
    const early = desk().intake;
    const head = readBatchLines(lines.join("\n"), batch.id, 3_600).lines.slice(0, 100);
    await early.submit(
      jobs,
      head.map((l) => early.checkFor("acme", l.spec, "x")),
    );

    const a = desk();
    const b = desk();
    const [ra, rb] = await Promise.all([a.desk.resumeOrphans(), b.desk.resumeOrphans()]);
    expect(ra.map((r) => r.id)).toContain(batch.id);
    expect(rb.map((r) => r.id)).toContain(batch.id);
    // Each desk submits every line (new or duplicate) before its validation ends.
    await until("both validations done", () => (a.submitted.length === N && b.submitted.length === N ? true : undefined));
    const after = await until("batch in progress", async () => {
      const r = await batches.get("acme", batch.id);
      return r?.status === "in_progress" ? r : undefined;
    });
    expect(after.total).toBe(N + 1);
    expect(after.line_errors.map((e) => [e.line, e.code])).toEqual([[301, "invalid_json"]]);
    expect(after.failed).toBe(1);
    expect(after.jobs.map((j) => j.custom_id)).toEqual(Array.from({ length: N }, (_, i) => `r-${i}`));
    expect(new Set(after.jobs.map((j) => j.job_id)).size).toBe(N);
    // New jobs across both desks: the N - 100 not queued before; never one twice.
    expect([...a.submitted, ...b.submitted].filter((d) => !d)).toHaveLength(N - 100);

    const stored = await jobsOf("acme", batch.id);
    expect(stored).toHaveLength(N);
    expect(new Set(stored.map((j) => j!.metadata["custom_id"])).size).toBe(N);
    expect(new Set(stored.map((j) => j!.id))).toEqual(new Set(after.jobs.map((j) => j.job_id)));
    for (const j of stored) expect(j).toMatchObject({ tenant: "acme", tier: "bronze", state: JobState.QUEUED, reasons: ["plan of acme"] });
    // Jobs end by the batch's own deadline, not a fresh 24 h from the resume.
    for (const j of stored) expect(Number(j!.deadlineMs)).toBeLessThanOrEqual(after.expires_at * 1_000 + 2_000);

    // A later sweep leaves it alone.
    expect(await a.desk.resumeOrphans()).toEqual([]);
  });

  it("leaves alone a batch created or last validated less than the orphan age ago", async () => {
    const young = await orphan("acme", [line("y")], { ageS: 1 });
    const live = await orphan("acme", [line("l")], { ageS: 600, validatedAgoS: 1 });
    const d = desk();
    const resumed = (await d.desk.resumeOrphans()).map((r) => r.id);
    expect(resumed).not.toContain(young.id);
    expect(resumed).not.toContain(live.id);
    expect(await batches.get("acme", live.id)).toMatchObject({ status: "validating" });
  });

  it("ends a batch whose window passed while it was validating as expired, queuing nothing more", async () => {
    const lines = Array.from({ length: 10 }, (_, i) => line(`e-${i}`));
    const batch = await orphan("acme", lines, { expiresInS: -5 });
    // Four lines were queued before its router stopped; one of them already succeeded.
    const d = desk();
    const queued = await d.intake.submit(
      jobs,
      readBatchLines(lines.join("\n"), batch.id, 3_600)
        .lines.slice(0, 4)
        .map((l) => d.intake.checkFor("acme", l.spec, "x")),
    );
    await jobs.store.update("acme", queued[0]!.job!.id, (j) => ({
      ...j,
      state: JobState.SUCCEEDED,
      finishedAtMs: BigInt(Date.now()),
      result: create(CompleteResponseSchema, { content: "done", model: "b", finishReason: "stop" }),
    }));

    expect((await d.desk.resumeOrphans()).map((r) => r.id)).toContain(batch.id);
    const ended = await until("batch expired", async () => {
      const r = await batches.get("acme", batch.id);
      return r?.status === "expired" ? r : undefined;
    });
    expect(ended).toMatchObject({ total: 10, completed: 1, failed: 9 });
    expect(ended.expired_at).toBeGreaterThan(0);
    expect((await jobsOf("acme", batch.id)).map((j) => j!.state).sort()).toEqual(
      [JobState.SUCCEEDED, JobState.EXPIRED, JobState.EXPIRED, JobState.EXPIRED].sort(),
    );
    const text = async (id: string | null) => new TextDecoder().decode(await files.content("acme", id!));
    const output = (await text(ended.output_file_id))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const errors = (await text(ended.error_file_id))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(output.map((o) => o.custom_id)).toEqual(["e-0"]);
    expect(errors.map((e) => e.custom_id).sort()).toEqual(
      lines
        .slice(1)
        .map((l) => JSON.parse(l).custom_id)
        .sort(),
    );
    expect(new Set(errors.map((e) => e.error.code))).toEqual(new Set(["batch_expired"]));
  });

  it("refuses every line of a batch whose tenant no longer has a plan, without failing the batch", async () => {
    const batch = await orphan("ghost", [line("g-0"), line("g-1")]);
    const d = desk();
    await d.desk.resumeOrphans();
    const after = await until("batch in progress", async () => {
      const r = await batches.get("ghost", batch.id);
      return r?.status === "in_progress" ? r : undefined;
    });
    expect(after).toMatchObject({ total: 2, failed: 2, jobs: [] });
    expect(after.line_errors.map((e) => e.code)).toEqual(["invalid_request", "invalid_request"]);
  });
});

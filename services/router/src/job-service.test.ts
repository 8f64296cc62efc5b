import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { parseConfig } from "@tiermesh/config";
import { openJobBackend, type JobBackend } from "@tiermesh/jobs";
import { JobService, JobState } from "@tiermesh/proto";
import { describe, expect, it } from "vitest";
import { JobIntake } from "./job-intake.js";
import { createJobService } from "./job-service.js";
import { useNatsServer } from "../../../test/support/nats-fixture.js";

const config = parseConfig(
  `
router: { listen: "127.0.0.1:7400" }
classifier: { listen: "127.0.0.1:7401" }
health_monitor: { listen: "127.0.0.1:7402" }
providers: { sim: { kind: openai, base_url: "http://127.0.0.1:7490/v1" } }
tiers:
  gold: { rank: 2, executor: { listen: "127.0.0.1:7410" }, models: [{ provider: sim, model: g, price: { input_per_mtok: 3, output_per_mtok: 3 } }] }
  bronze: { rank: 1, executor: { listen: "127.0.0.1:7412" }, models: [{ provider: sim, model: b, price: { input_per_mtok: 1, output_per_mtok: 1 } }], async: { enabled: true, retention_hours: 2 } }
plans: { p: { default_tier: gold, max_tier: gold } }
`,
  "t.yaml",
  {},
);

// A real nats-server (never a mocked broker); the service in memory over createRouterTransport.
let backend: JobBackend | undefined;
const submitted: [string, boolean][] = [];

/** "Bearer <tenant>" authenticates as <tenant>; urgency "batch" classifies to bronze, anything else to gold. */
const tenantOf = (authorization: string | null) => {
  const tenant = /^Bearer (\w+)$/.exec(authorization ?? "")?.[1];
  if (!tenant) throw new ConnectError("authorization: unknown API key", Code.Unauthenticated);
  return tenant;
};
const intake = new JobIntake({
  tiers: config.tiers,
  tenantOf,
  placeFor: (tenant, input) => ({
    tenant,
    tier: input.urgency === "batch" ? "bronze" : "gold",
    promptTokens: 3,
    reasons: ["test"],
  }),
  onSubmitted: (tier, duplicate) => submitted.push([tier, duplicate]),
});
const transport = createRouterTransport((router) =>
  router.service(JobService, createJobService({ intake, tenantOf, backend: () => backend })),
);
const client = createClient(JobService, transport);
const as = (tenant: string) => ({ headers: { authorization: `Bearer ${tenant}` } });
const spec = (key: string, urgency = "") => ({ idempotencyKey: key, input: { messages: [{ role: "user", content: "hi" }], urgency } });
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => ConnectError.from(e).code,
  );

const nats = useNatsServer();

describe("JobService", () => {
  it("is UNAVAILABLE until the job store is open", async () => {
    expect(await codeOf(client.submitJobs({ jobs: [spec("early")] }, as("acme")))).toBe(Code.Unavailable);
    backend = await openJobBackend(nats.nc, config);
  });

  it("queues a job on the tier it classifies to, with its urgency defaulted to batch and its window within the tier's retention", async () => {
    const before = Date.now();
    const { jobs } = await client.submitJobs({ jobs: [spec("one")] }, as("acme"));
    const job = jobs[0]!.job!;
    expect(job).toMatchObject({ tenant: "acme", tier: "bronze", state: JobState.QUEUED, promptTokens: 3, reasons: ["test"] });
    expect(job.input!.urgency).toBe("batch");
    expect(Number(job.deadlineMs) - before).toBeGreaterThanOrEqual(2 * 3_600_000 - 1_000);
    expect(await backend!.queue.oldestQueuedAt("bronze")).toBeGreaterThanOrEqual(before - 1_000);
    expect(submitted).toContainEqual(["bronze", false]);
    const long = { ...spec("long"), completionWindowSeconds: 3 * 3_600 };
    expect(await codeOf(client.submitJobs({ jobs: [long] }, as("acme")))).toBe(Code.InvalidArgument);
  });

  it("refuses the whole call when one job goes to a tier without async, naming job and tier", async () => {
    const err = await client
      .submitJobs({ jobs: [spec("fine"), spec("now", "interactive")] }, as("acme"))
      .catch((e: unknown) => ConnectError.from(e));
    expect(err).toMatchObject({ code: Code.FailedPrecondition });
    expect((err as ConnectError).rawMessage).toBe(
      'jobs[1]: tier "gold" does not take asynchronous jobs (tiers.gold.async.enabled is false)',
    );
    expect((await client.listJobs({}, as("acme"))).jobs.some((j) => j.idempotencyKey === "fine")).toBe(false);
  });

  it("refuses calls without a key, jobs without an idempotency key or messages, and ids that are not job ids", async () => {
    expect(await codeOf(client.submitJobs({ jobs: [spec("x")] }))).toBe(Code.Unauthenticated);
    expect(await codeOf(client.submitJobs({ jobs: [] }, as("acme")))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submitJobs({ jobs: [spec("")] }, as("acme")))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.submitJobs({ jobs: [{ idempotencyKey: "k", input: { messages: [] } }] }, as("acme")))).toBe(
      Code.InvalidArgument,
    );
    expect(await codeOf(client.getJob({ id: "../x" }, as("acme")))).toBe(Code.InvalidArgument);
    expect(await codeOf(client.listJobs({ pageToken: "nope" }, as("acme")))).toBe(Code.InvalidArgument);
  });

  it("keeps tenants apart: another tenant neither sees, cancels nor shares idempotency keys with a job", async () => {
    const mine = (await client.submitJobs({ jobs: [spec("shared-key")] }, as("acme"))).jobs[0]!.job!;
    const theirs = (await client.submitJobs({ jobs: [spec("shared-key")] }, as("globex"))).jobs[0]!;
    expect(theirs.duplicate).toBe(false);
    expect(theirs.job!.id).not.toBe(mine.id);
    expect(await codeOf(client.getJob({ id: mine.id }, as("globex")))).toBe(Code.NotFound);
    expect(await codeOf(client.cancelJob({ id: mine.id }, as("globex")))).toBe(Code.NotFound);
    expect((await client.listJobs({}, as("globex"))).jobs.map((j) => j.id)).toEqual([theirs.job!.id]);
  });

  it("cancels a queued job once; cancelling a final job returns it unchanged", async () => {
    const id = (await client.submitJobs({ jobs: [spec("to-cancel")] }, as("acme"))).jobs[0]!.job!.id;
    const first = (await client.cancelJob({ id }, as("acme"))).job!;
    expect(first).toMatchObject({ state: JobState.CANCELLED, error: { code: "canceled" } });
    const again = (await client.cancelJob({ id }, as("acme"))).job!;
    expect(again.finishedAtMs).toBe(first.finishedAtMs);
    const states: JobState[] = [];
    for await (const { job } of client.watchJob({ id }, as("acme"))) states.push(job!.state);
    expect(states).toEqual([JobState.CANCELLED]);
  });
});

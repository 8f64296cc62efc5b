import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { isJobId, type JobBackend } from "@tiermesh/jobs";
import { JobErrorSchema, JobState, type Job, type JobService } from "@tiermesh/proto";
import type { JobIntake } from "./job-intake.js";

const DEFAULT_PAGE = 100;
const MAX_PAGE = 1_000;

export interface JobServiceDeps {
  intake: JobIntake;
  /** The caller's tenant, or throws UNAUTHENTICATED. */
  tenantOf: (authorization: string | null) => string;
  /** The job stream and bucket; undefined until NATS answered. */
  backend: () => JobBackend | undefined;
}

/** The Job RPC over the job intake and store; a caller reaches only its own tenant's jobs. */
export function createJobService(deps: JobServiceDeps): ServiceImpl<typeof JobService> {
  const backend = () => {
    const b = deps.backend();
    if (!b) throw new ConnectError("jobs: the job store (NATS JetStream) is not reachable yet", Code.Unavailable);
    return b;
  };
  const caller = (ctx: HandlerContext) => deps.tenantOf(ctx.requestHeader.get("authorization"));
  const find = async (ctx: HandlerContext, id: string): Promise<{ tenant: string; job: Job }> => {
    const tenant = caller(ctx);
    if (!isJobId(id)) throw new ConnectError(`id: "${id}" is not a job id`, Code.InvalidArgument);
    const job = await backend().store.get(tenant, id);
    if (!job) throw new ConnectError(`job "${id}" not found`, Code.NotFound);
    return { tenant, job };
  };
  return {
    async submitJobs(req, ctx) {
      const placed = deps.intake.check(ctx.requestHeader.get("authorization"), req.jobs);
      return { jobs: await deps.intake.submit(backend(), placed) };
    },
    async getJob(req, ctx) {
      return { job: (await find(ctx, req.id)).job };
    },
    async *watchJob(req, ctx) {
      const { tenant } = await find(ctx, req.id);
      for await (const job of backend().store.watch(tenant, req.id, ctx.signal)) yield { job };
    },
    async cancelJob(req, ctx) {
      const { tenant } = await find(ctx, req.id);
      const error = create(JobErrorSchema, { code: "canceled", message: "cancelled by the caller" });
      const { job } = await backend().store.update(tenant, req.id, (j) => ({
        ...j,
        state: JobState.CANCELLED,
        finishedAtMs: BigInt(Date.now()),
        error,
      }));
      if (!job) throw new ConnectError(`job "${req.id}" not found`, Code.NotFound);
      return { job };
    },
    async listJobs(req, ctx) {
      const tenant = caller(ctx);
      const size = req.pageSize === 0 ? DEFAULT_PAGE : Math.min(req.pageSize, MAX_PAGE);
      if (req.pageToken !== "" && !isJobId(req.pageToken))
        throw new ConnectError("page_token: not a token this service gave", Code.InvalidArgument);
      const { store } = backend();
      const ids = (await store.ids(tenant)).filter((id) => req.pageToken === "" || id < req.pageToken);
      const page = ids.slice(0, size);
      const jobs = (await Promise.all(page.map((id) => store.get(tenant, id)))).filter((j): j is Job => j !== undefined);
      return { jobs, nextPageToken: ids.length > size ? page[page.length - 1]! : "" };
    },
  };
}

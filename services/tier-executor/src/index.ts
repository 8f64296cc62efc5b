export { createTierExecutorServer, type TierExecutorServer, type TierExecutorServerOptions } from "./executor-server.js";
export { createTierExecutorService, type TierExecutorServiceDeps } from "./executor-service.js";
export { TierRunner, type RunContext, type RunRequest, type RunResult, type TierRunnerOptions } from "./tier-runner.js";
export { DeploymentPool, type Deployment } from "./deployment-pool.js";
export { costUsd } from "./cost.js";
export { createProviders, providerFactories } from "./providers/registry.js";
export type { ProviderAdapter, ProviderEvent, ProviderRequest } from "./providers/provider-adapter.js";
export { ProviderError, type ProviderFailure } from "./providers/provider-error.js";

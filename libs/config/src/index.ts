export { configSchema, continuationModes, providerSchema, type Config, type ProviderConfig } from "./config-schema.js";
export { observabilitySchema, tracingSchema, type TracingConfig } from "./observability-schema.js";
export { ConfigError } from "./config-error.js";
export { loadConfig, parseConfig, type Env } from "./load-config.js";
export { endpointUrl, splitHostPort } from "./endpoints.js";
export { TierLadder } from "./tier-ladder.js";
export {
  completionTokens,
  contextNeed,
  contextOverhead,
  deploymentId,
  formatTokens,
  largestWindow,
  smallestWindow,
  systemPrompt,
  windowFits,
  type ContextDemand,
  type ContextNeed,
  type LargestWindow,
  type TierDemand,
} from "./context-window.js";
export {
  planSchema,
  ruleSchema,
  tenantSchema,
  urgencies,
  type PlanConfig,
  type RuleConfig,
  type TenantConfig,
  type Urgency,
} from "./tenancy-schema.js";
export type {
  BreakerConfig,
  BulkheadConfig,
  CacheConfig,
  CooldownConfig,
  DeploymentConfig,
  HedgeConfig,
  InterTokenStallConfig,
  RoutingConfig,
  TierConfig,
  TierSloConfig,
} from "./tier-schema.js";
export { asyncSchema, type AsyncConfig } from "./async-schema.js";
export { hasRateLimits, rateLimitsOf, type RateLimits } from "./rate-limits.js";
export { generateApiKey, hashApiKey } from "./api-key-hash.js";
export { budgetOverrideSchema, budgetSchema, pacingStepSchema, type BudgetConfig, type BudgetOverride } from "./budget-schema.js";
export { tenantBudget, type TenantBudget } from "./tenant-budget.js";
export { ledgerSchema, type LedgerConfig } from "./ledger-schema.js";

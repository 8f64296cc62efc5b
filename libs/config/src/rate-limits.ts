import type { Config } from "./config-schema.js";

/** A tenant's rate limits in force: its own where it sets them, else its plan's. */
export interface RateLimits {
  requestsPerMinute: number | undefined;
  tokensPerMinute: number | undefined;
  /** Completion tokens charged for a request without max_tokens; undefined = its tier's default_max_tokens. */
  outputTokensEstimate: number | undefined;
}

/** The rate limits of `tenant`; undefined for an unknown tenant. */
export function rateLimitsOf(config: Pick<Config, "plans" | "tenants">, tenant: string): RateLimits | undefined {
  if (!Object.hasOwn(config.tenants, tenant)) return undefined;
  const t = config.tenants[tenant]!;
  const plan = Object.hasOwn(config.plans, t.plan) ? config.plans[t.plan]!.limits : undefined;
  const own = t.limits;
  return {
    requestsPerMinute: own?.requests_per_minute ?? plan?.requests_per_minute,
    tokensPerMinute: own?.tokens_per_minute ?? plan?.tokens_per_minute,
    outputTokensEstimate: own?.output_tokens_estimate ?? plan?.output_tokens_estimate,
  };
}

/** Some tenant has a request or token rate limit in force (its own or its plan's). */
export function hasRateLimits(config: Pick<Config, "plans" | "tenants">): boolean {
  return Object.keys(config.tenants).some((tenant) => {
    const limits = rateLimitsOf(config, tenant);
    return limits?.requestsPerMinute !== undefined || limits?.tokensPerMinute !== undefined;
  });
}

import { readFileSync } from "node:fs";
import type { Config } from "@tiermesh/config";
import { StartupError } from "@tiermesh/runtime";
import { createAnthropicAdapter } from "./anthropic-adapter.js";
import { createOpenAIAdapter } from "./openai-adapter.js";
import type { ProviderAdapter, ProviderAdapterFactory } from "./provider-adapter.js";

/** Provider wire formats by config `kind`. */
export const providerFactories: Record<Config["providers"][string]["kind"], ProviderAdapterFactory> = {
  openai: createOpenAIAdapter,
  anthropic: createAnthropicAdapter,
};

/**
 * Builds an adapter for each provider the given tiers use. Keys come only from the
 * environment or secret files named in config, never from requests.
 */
export function createProviders(
  config: Config,
  tiers: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Map<string, ProviderAdapter> {
  const used = new Set(tiers.flatMap((t) => config.tiers[t]!.models.map((m) => m.provider)));
  const adapters = new Map<string, ProviderAdapter>();
  for (const name of used) {
    const provider = config.providers[name]!;
    let key: string | undefined;
    if (provider.api_key_env) {
      key = env[provider.api_key_env];
      if (!key) throw new StartupError(`providers.${name}.api_key_env: environment variable ${provider.api_key_env} is not set`);
    } else if (provider.api_key_file) key = readFileSync(provider.api_key_file, "utf8").trim();
    adapters.set(name, providerFactories[provider.kind](name, provider, key));
  }
  return adapters;
}

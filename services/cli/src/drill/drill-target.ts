import { ConfigError, endpointUrl, splitHostPort, type Config } from "@tiermesh/config";
import { simulatorConfigSchema } from "@tiermesh/simulator";
import { UsageError } from "../usage-error.js";
import type { DrillOptions } from "./drill-options.js";
import type { TierObjectives } from "./sample.js";

/** The drill cannot run against this mesh as configured (not a flag typo). The CLI exits 1. */
export class DrillSetupError extends Error {
  override readonly name = "DrillSetupError";
}

/** Where the drill sends traffic, which simulated model it faults, and what it measures against. */
export interface DrillTarget {
  routerUrl: string;
  /** Origin of the simulator the deployment's provider points at (its admin API lives there). */
  simulatorUrl: string;
  tier: string;
  deploymentId: string;
  provider: string;
  model: string;
  /** Tenant the traffic runs as; "" when an API key decides. */
  tenant: string;
  objectives: TierObjectives;
}

const LOOPBACK = new Set(["localhost", "127.0.0.1", "::1", "0.0.0.0", "::"]);
const hostKey = (host: string) => (LOOPBACK.has(host.toLowerCase()) ? "loopback" : host.toLowerCase());

/** "http://127.0.0.1:7490/v1" and "0.0.0.0:7490" name the same endpoint on this machine. */
export function sameEndpoint(baseUrl: string, listen: string): boolean {
  const url = new URL(baseUrl);
  const port = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const l = splitHostPort(listen);
  return port === l.port && hostKey(url.hostname.replace(/^\[(.*)\]$/, "$1")) === hostKey(l.host);
}

/** Resolves the drill's target from the config, or says exactly why it cannot. */
export function resolveDrillTarget(
  config: Config,
  configFile: string,
  o: Pick<DrillOptions, "tier" | "deployment" | "tenant" | "apiKey" | "tierHint">,
): DrillTarget {
  const tierNames = Object.keys(config.tiers);
  const tier = Object.hasOwn(config.tiers, o.tier) ? config.tiers[o.tier] : undefined;
  if (tier === undefined) throw new UsageError(`--tier: unknown tier "${o.tier}" (tiers: ${tierNames.join(", ")})`);
  if (o.tierHint !== "" && !Object.hasOwn(config.tiers, o.tierHint)) {
    throw new UsageError(`--tier-hint: unknown tier "${o.tierHint}" (tiers: ${tierNames.join(", ")})`);
  }
  const ids = tier.models.map((d) => d.id ?? `${d.provider}/${d.model}`);
  const index = o.deployment === undefined ? 0 : ids.indexOf(o.deployment);
  if (index < 0) throw new UsageError(`--deployment: tier ${o.tier} has no deployment "${o.deployment}" (deployments: ${ids.join(", ")})`);
  const deployment = tier.models[index]!;

  let tenant = "";
  if (o.apiKey === undefined) {
    const anonymous = config.router.anonymous_tenant;
    if (anonymous === undefined) {
      throw new UsageError(`--api-key is required: router.anonymous_tenant is not set in ${configFile}, so every call needs a key`);
    }
    if (o.tenant !== undefined && o.tenant !== anonymous) {
      throw new UsageError(
        `--tenant: only the anonymous tenant "${anonymous}" calls without a key; pass --api-key for tenant "${o.tenant}"`,
      );
    }
    tenant = anonymous;
  }

  if (config.simulator === undefined) {
    throw new DrillSetupError(`${configFile} has no simulator section: drill faults are injected through the simulated provider`);
  }
  const sim = simulatorConfigSchema.safeParse(config.simulator);
  if (!sim.success) throw ConfigError.fromZod(configFile, sim.error, ["simulator"]);
  const provider = config.providers[deployment.provider]!;
  if (!sameEndpoint(provider.base_url, sim.data.listen)) {
    throw new DrillSetupError(
      `tier ${o.tier} deployment ${ids[index]} uses provider "${deployment.provider}" at ${provider.base_url}, ` +
        `which is not the simulator (simulator.listen ${sim.data.listen}); the drill only injects faults into simulated providers`,
    );
  }
  if (!Object.hasOwn(sim.data.models, deployment.model)) {
    throw new DrillSetupError(
      `the simulator has no model "${deployment.model}" (simulator.models: ${Object.keys(sim.data.models).join(", ")})`,
    );
  }
  const base = new URL(provider.base_url);
  return {
    routerUrl: endpointUrl(config.router),
    simulatorUrl: `${base.protocol}//${base.host}`,
    tier: o.tier,
    deploymentId: ids[index]!,
    provider: deployment.provider,
    model: deployment.model,
    tenant,
    objectives: {
      tier: o.tier,
      sloTtftMs: tier.slo.ttft_p95_ms,
      ttftTimeoutMs: tier.timeouts.ttft_ms,
      latencyTarget: tier.slo.latency_target,
      availabilityTarget: tier.slo.availability_target,
    },
  };
}

import type { Config } from "./config-schema.js";

/** Tier names from the highest rank to the lowest. */
export function tiersByRank(config: Pick<Config, "tiers">): string[] {
  return Object.entries(config.tiers)
    .sort(([, a], [, b]) => b.rank - a.rank)
    .map(([name]) => name);
}

/** The URL other services use to reach an endpoint. */
export function endpointUrl(endpoint: { listen: string; url?: string | undefined }): string {
  return endpoint.url ?? `http://${endpoint.listen}`;
}

/** Splits "host:port" (IPv6 hosts in brackets). */
export function splitHostPort(listen: string): { host: string; port: number } {
  const at = listen.lastIndexOf(":");
  const host = listen.slice(0, at).replace(/^\[(.*)\]$/, "$1");
  return { host, port: Number(listen.slice(at + 1)) };
}

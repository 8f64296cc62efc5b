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

/** What `tiermesh up` has started, for the lines it prints once everything serves. */
export interface UpSummaryInput {
  tookSeconds: number;
  configFile: string;
  singleProcess: boolean;
  natsUrl: string;
  privateNats: boolean;
  endpoints: ReadonlyArray<{ name: string; url: string }>;
  launcherListen: string;
}

/** Where the health monitor serves the live tier console, given the monitor's base URL. */
export const consoleUrl = (monitorUrl: string) => `${monitorUrl.replace(/\/+$/, "")}/console/`;

/** The lines `tiermesh up` prints when the mesh is up: endpoints, the tier console, a first request. */
export function upSummary(s: UpSummaryInput): string[] {
  const router = s.endpoints.find((e) => e.name === "router");
  const monitor = s.endpoints.find((e) => e.name === "health-monitor");
  return [
    `tiermesh is up in ${s.tookSeconds.toFixed(1)} s (config ${s.configFile}${s.singleProcess ? ", one process" : ""})`,
    `  nats            ${s.natsUrl}${s.privateNats ? " (private nats-server)" : ""}`,
    ...s.endpoints.map((e) => `  ${e.name.padEnd(15)} ${e.url}`),
    `  launcher        http://${s.launcherListen} (tiermesh status)`,
    ...(monitor ? ["", `Tier console (live tier status, traffic and SLIs): ${consoleUrl(monitor.url)}`] : []),
    ...(router
      ? [
          "",
          "First request (Connect JSON over HTTP):",
          `  curl -s ${router.url}/tiermesh.router.v1.RouterService/Complete \\`,
          `    -H 'content-type: application/json' \\`,
          `    -d '{"input":{"messages":[{"role":"user","content":"Hello"}],"urgency":"interactive"}}'`,
        ]
      : []),
    "",
    "Services that die are restarted. Ctrl-C stops everything.",
  ];
}

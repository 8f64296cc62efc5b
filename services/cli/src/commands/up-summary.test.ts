import { describe, expect, it } from "vitest";
import { consoleUrl, upSummary } from "./up-summary.js";

const endpoints = [
  { name: "simulator", url: "http://127.0.0.1:7490" },
  { name: "health-monitor", url: "http://127.0.0.1:7402" },
  { name: "router", url: "http://127.0.0.1:7400" },
];

describe("upSummary", () => {
  it("names every endpoint, the tier console's URL and a first request", () => {
    const lines = upSummary({
      tookSeconds: 3.04,
      configFile: "c.yaml",
      singleProcess: false,
      natsUrl: "nats://127.0.0.1:4222",
      privateNats: true,
      endpoints,
      launcherListen: "127.0.0.1:7403",
    });
    expect(lines[0]).toBe("tiermesh is up in 3.0 s (config c.yaml)");
    expect(lines).toContain("  health-monitor  http://127.0.0.1:7402");
    expect(lines).toContain("Tier console (live tier status, traffic and SLIs): http://127.0.0.1:7402/console/");
    expect(lines).toContain("  curl -s http://127.0.0.1:7400/tiermesh.router.v1.RouterService/Complete \\");
  });

  it("prints no console line without a health monitor", () => {
    const lines = upSummary({
      tookSeconds: 1,
      configFile: "c.yaml",
      singleProcess: true,
      natsUrl: "n",
      privateNats: false,
      endpoints: endpoints.filter((e) => e.name !== "health-monitor"),
      launcherListen: "l",
    });
    expect(lines.some((l) => l.includes("console"))).toBe(false);
    expect(consoleUrl("https://monitor.internal:8443/")).toBe("https://monitor.internal:8443/console/");
  });
});

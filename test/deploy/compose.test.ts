import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { deployConfig, deployConfigFile, deployPath, endpointsOf, readYaml } from "../support/deploy-files.js";

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  profiles?: string[];
}
interface Compose {
  services: Record<string, ComposeService>;
}
interface PrometheusConfig {
  rule_files: string[];
  scrape_configs: { static_configs: { targets: string[] }[] }[];
}

const composeFile = deployPath("docker-compose.yaml");
const compose = readYaml<Compose>(composeFile);
const config = deployConfig();
const endpoints = endpointsOf(config);

describe("deploy/docker-compose.yaml", () => {
  it("runs every process of the config as its own service, named as the config names it", () => {
    const tiermesh = Object.entries(compose.services).filter(([, s]) => s.build !== undefined);
    expect(tiermesh.map(([name]) => name).sort()).toEqual(endpoints.map((e) => e.name).sort());
    expect(compose.services[new URL(config.nats.url).hostname]).toBeDefined();
  });

  it("builds the root Dockerfile and mounts the deploy config where the command reads it", () => {
    for (const e of endpoints) {
      const s = compose.services[e.name]!;
      expect(existsSync(join(resolve(deployPath(), s.build!.context), s.build!.dockerfile))).toBe(true);
      const [source, target] = s.volumes![0]!.split(":");
      expect(resolve(deployPath(), source!)).toBe(deployConfigFile);
      const command = s.command!;
      expect(command).toContain(e.script);
      expect(command[command.indexOf("--config") + 1]).toBe(target);
      if (e.tier) expect(command[command.indexOf("--tier") + 1]).toBe(e.tier);
    }
  });

  it("publishes and health-checks each service on the port the config gives it", () => {
    for (const e of endpoints) {
      const s = compose.services[e.name]!;
      expect(s.ports, e.name).toEqual([`127.0.0.1:${e.port}:${e.port}`]);
      expect(s.healthcheck!.test.join(" "), e.name).toContain(`http://127.0.0.1:${e.port}/`);
      for (const dependency of Object.keys(s.depends_on ?? {}))
        expect(compose.services[dependency], `${e.name} depends on ${dependency}`).toBeDefined();
    }
  });

  it("has Prometheus scrape every service that serves /metrics, at the config's ports, with the alert rules", () => {
    const prometheus = readYaml<PrometheusConfig>(deployPath("prometheus", "prometheus.yml"));
    const targets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets)).sort();
    expect(targets).toEqual(
      endpoints
        .filter((e) => e.metrics)
        .map((e) => `${e.name}:${e.port}`)
        .sort(),
    );
    const mounts = compose.services["prometheus"]!.volumes!.map((v) => v.split(":"));
    for (const rules of prometheus.rule_files) {
      const mounted = mounts.find(([, target]) => target === rules);
      expect(mounted, rules).toBeDefined();
      expect(existsSync(resolve(deployPath(), mounted![0]!))).toBe(true);
    }
  });

  it("mounts the Grafana provisioning and dashboard files that exist", () => {
    for (const volume of compose.services["grafana"]!.volumes!)
      expect(existsSync(resolve(deployPath(), volume.split(":")[0]!)), volume).toBe(true);
  });
});

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig, splitHostPort, type Config } from "@tiermesh/config";
import { parseAllDocuments } from "yaml";

/** The repository root and deploy/ in it. */
export const root = fileURLToPath(new URL("../../", import.meta.url));
export const deployPath = (...parts: string[]) => fileURLToPath(new URL(`../../deploy/${parts.join("/")}`, import.meta.url));

/**
 * Every document of a YAML file as plain data, merge keys (`<<: *anchor`, which compose files
 * use) resolved; a document with an error fails with the file's name.
 */
export function readYamlDocuments(file: string): unknown[] {
  return parseAllDocuments(readFileSync(file, "utf8"), { merge: true }).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${file}, document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS() as unknown;
  });
}

export function readYaml<T>(file: string): T {
  const [doc] = readYamlDocuments(file);
  return doc as T;
}

/** The config the local overlay of deploy/kubernetes and deploy/docker-compose.yaml run with, through the real schema. */
export const deployConfigFile = deployPath("kubernetes", "overlays", "local", "tiermesh.yaml");
export const deployConfig = (): Config => loadConfig(deployConfigFile, {});

/** Where a process of the mesh listens and how the others name it, as the config says. */
export interface Endpoint {
  /** The Kubernetes Service and compose service name. */
  name: string;
  /** The script the process runs, relative to the image's working directory. */
  script: string;
  /** `--tier` for executors. */
  tier?: string;
  port: number;
  /** Host and port other services use (from the config's url), when the config says. */
  reachedAt?: { host: string; port: number };
  /** Serves Prometheus metrics on GET /metrics. */
  metrics: boolean;
}

const reached = (url: string | undefined) => {
  if (url === undefined) return undefined;
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
};

/** Every process the deploy config describes, the simulated provider included when it has a `simulator` section. */
export function endpointsOf(config: Config): Endpoint[] {
  const list: Endpoint[] = [
    {
      name: "tiermesh-router",
      script: "services/router/dist/main.bundle.mjs",
      port: splitHostPort(config.router.listen).port,
      metrics: true,
    },
    {
      name: "tiermesh-classifier",
      script: "services/classifier/dist/main.js",
      port: splitHostPort(config.classifier.listen).port,
      reachedAt: reached(config.classifier.url)!,
      metrics: true,
    },
    {
      name: "tiermesh-health-monitor",
      script: "services/health-monitor/dist/main.js",
      port: splitHostPort(config.health_monitor.listen).port,
      reachedAt: reached(config.health_monitor.url)!,
      metrics: true,
    },
  ];
  for (const [tier, t] of Object.entries(config.tiers)) {
    list.push({
      name: `tiermesh-executor-${tier}`,
      script: "services/tier-executor/dist/main.bundle.mjs",
      tier,
      port: splitHostPort(t.executor.listen).port,
      reachedAt: reached(t.executor.url)!,
      metrics: true,
    });
  }
  const simulator = config.simulator as { listen: string } | undefined;
  if (simulator)
    list.push({
      name: "tiermesh-simulator",
      script: "services/simulator/dist/main.js",
      port: splitHostPort(simulator.listen).port,
      metrics: false,
    });
  return list;
}

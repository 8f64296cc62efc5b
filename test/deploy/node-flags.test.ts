import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { serviceMallocEnv, serviceNodeArgs } from "@tiermesh/cli";
import { describe, expect, it } from "vitest";
import { deployConfig, deployPath, endpointsOf, readYaml, readYamlDocuments, root } from "../support/deploy-files.js";

// The flags a service runs with are written in four places: `tiermesh up` (the launcher), the
// image's NODE_OPTIONS, the Kubernetes base commands and the Compose commands. The figures in
// the README were measured with the launcher's; these checks keep the deployments on them.

interface Container {
  command?: string[];
  args?: string[];
}
interface Workload {
  kind: string;
  metadata: { name: string };
  spec?: { template?: { spec?: { containers?: Container[] } } };
}
interface ComposeService {
  build?: unknown;
  command?: string[];
}

const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
/** The image's environment: every `KEY=value` or `KEY="value"` of its ENV lines. */
const imageEnv = Object.fromEntries(
  [...dockerfile.matchAll(/^ENV (.+)$/gm)].flatMap((m) =>
    [...m[1]!.matchAll(/(\w+)=("[^"]*"|\S+)/g)].map((kv) => [kv[1]!, kv[2]!.replace(/^"|"$/g, "")]),
  ),
);
const nodeOptions = (imageEnv["NODE_OPTIONS"] ?? "").split(" ").filter(Boolean);
const launcherFlags = [...serviceNodeArgs()].sort();

/** The mesh's services (the simulator stands in for a provider and is not one of them). */
const services = endpointsOf(deployConfig()).filter((e) => e.name !== "tiermesh-simulator");

/** The flags a command passes to node before the script it runs, with the image's NODE_OPTIONS. */
function flagsOf(words: readonly string[], script: string): string[] {
  const at = words.indexOf(script);
  expect(at, `command runs ${script}`).toBeGreaterThanOrEqual(0);
  const flags = words.slice(0, at).filter((w) => w.startsWith("--"));
  return [...new Set([...nodeOptions, ...flags])].sort();
}

describe("the Node flags and malloc settings of deployed services", () => {
  it("the image sets the malloc settings `tiermesh up` gives its services", () => {
    for (const [name, value] of Object.entries(serviceMallocEnv)) expect(imageEnv[name], name).toBe(value);
  });

  it("Kubernetes runs every service with the flags of `tiermesh up`", () => {
    const base = deployPath("kubernetes", "base");
    const containers = readdirSync(base)
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) => readYamlDocuments(join(base, f)) as Workload[])
      .filter((o) => o?.kind === "Deployment" || o?.kind === "StatefulSet")
      .flatMap((o) => o.spec?.template?.spec?.containers ?? []);
    for (const e of services) {
      const container = containers.find((c) => {
        const words = [...(c.command ?? []), ...(c.args ?? [])];
        return words.includes(e.script) && (e.tier === undefined || words[words.indexOf("--tier") + 1] === e.tier);
      });
      expect(container, `a base Deployment runs ${e.name}`).toBeDefined();
      expect(container!.command![0], e.name).toBe("node");
      expect(flagsOf(container!.command!, e.script), e.name).toEqual(launcherFlags);
    }
  });

  it("Compose runs every service with the flags of `tiermesh up`", () => {
    const compose = readYaml<{ services: Record<string, ComposeService> }>(deployPath("docker-compose.yaml"));
    for (const e of services) {
      const service = compose.services[e.name];
      expect(service?.command, `compose service ${e.name}`).toBeDefined();
      expect(flagsOf(service!.command!, e.script), e.name).toEqual(launcherFlags);
    }
  });
});

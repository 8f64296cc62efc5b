import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { deployConfig, deployPath, endpointsOf, readYaml, readYamlDocuments, root, type Endpoint } from "../support/deploy-files.js";

/** The parts of Kubernetes objects these checks read. */
interface Probe {
  grpc?: { port: number; service?: string };
  httpGet?: { path: string; port: number | string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { memory?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] };
}
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: {
    replicas?: number;
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: PodTemplate;
    ports?: { name: string; port: number; targetPort: number | string }[];
    scaleTargetRef?: { kind: string; name: string };
    minReplicas?: number;
  };
}
interface Kustomization {
  namespace: string;
  resources: string[];
  configMapGenerator: { name: string; files: string[] }[];
  images: { name: string }[];
}

const dir = deployPath("kubernetes");
const kustomization = readYaml<Kustomization>(join(dir, "kustomization.yaml"));
const configFiles = kustomization.configMapGenerator.flatMap((g) => g.files.map((f) => f.split("=").pop()!));
const objects = kustomization.resources.flatMap((file) => readYamlDocuments(join(dir, file)) as K8sObject[]);
const config = deployConfig();
const endpoints = endpointsOf(config);

const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
const named = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

/** The port a Service port's targetPort names on the pods it selects. */
function targetPort(_service: K8sObject, port: { targetPort: number | string }, pods: PodTemplate): number | undefined {
  if (typeof port.targetPort === "number") return port.targetPort;
  return pods.spec.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === port.targetPort)?.containerPort;
}

/** The Deployment running an endpoint: the one whose container runs its script (and tier). */
function deploymentOf(e: Endpoint): { deployment: K8sObject; container: Container } {
  for (const deployment of ofKind("Deployment")) {
    for (const container of deployment.spec!.template!.spec.containers) {
      const words = [...(container.command ?? []), ...(container.args ?? [])];
      const tier = words[words.indexOf("--tier") + 1];
      if (words.includes(e.script) && (e.tier === undefined || tier === e.tier)) return { deployment, container };
    }
  }
  throw new Error(`no Deployment runs ${e.script}${e.tier ? ` --tier ${e.tier}` : ""}`);
}

/** The Service selecting a Deployment's pods. */
function serviceOf(deployment: K8sObject): K8sObject {
  const labels = deployment.spec!.template!.metadata.labels;
  const services = ofKind("Service").filter((s) => Object.entries(s.spec!.selector ?? {}).every(([k, v]) => labels[k] === v));
  expect(services.map((s) => s.metadata.name), `Services selecting ${deployment.metadata.name}`).toHaveLength(1);
  return services[0]!;
}

describe("deploy/kubernetes", () => {
  it("parses: every resource file, every document a named object", () => {
    expect(objects.length).toBeGreaterThan(10);
    for (const o of objects) {
      expect(o.apiVersion, JSON.stringify(o).slice(0, 80)).toBeTruthy();
      expect(o.kind).toBeTruthy();
      expect(o.metadata.name).toBeTruthy();
    }
  });

  it("kustomization.yaml lists every file of the folder, and only files that exist", () => {
    const files = readdirSync(dir).filter((f) => f !== "kustomization.yaml").sort();
    expect([...kustomization.resources, ...configFiles].sort()).toEqual(files);
    for (const f of files) expect(existsSync(join(dir, f))).toBe(true);
  });

  it("runs every process of the config, each as its own Deployment behind its own Service", () => {
    const deployments = new Set(endpoints.map((e) => deploymentOf(e).deployment.metadata.name));
    expect(deployments.size).toBe(endpoints.length);
    expect(ofKind("Deployment")).toHaveLength(endpoints.length);
    expect(endpoints.map((e) => e.tier).filter(Boolean)).toEqual(Object.keys(config.tiers));
  });

  it("listens, probes, publishes and scrapes on the ports the config gives, under the names it uses", () => {
    for (const e of endpoints) {
      const { deployment, container } = deploymentOf(e);
      const where = `${deployment.metadata.name}`;
      const pods = deployment.spec!.template!;
      expect(container.ports?.map((p) => p.containerPort), where).toEqual([e.port]);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe, `${where} probes`).toBeDefined();
        const port = probe!.grpc?.port ?? probe!.httpGet?.port;
        expect(typeof port === "number" ? port : container.ports!.find((p) => p.name === port)?.containerPort, `${where} probe port`).toBe(e.port);
      }
      const annotations = pods.metadata.annotations ?? {};
      if (e.metrics) expect(annotations["prometheus.io/port"], `${where} scrape port`).toBe(String(e.port));
      else expect(annotations["prometheus.io/scrape"], `${where} has no /metrics`).toBeUndefined();
      const service = serviceOf(deployment);
      expect(service.metadata.name, where).toBe(e.name);
      expect(service.spec!.ports!.map((p) => [p.port, targetPort(service, p, pods)]), where).toEqual([[e.port, e.port]]);
      if (e.reachedAt) expect(e.reachedAt, `${where}: the config's url`).toEqual({ host: service.metadata.name, port: service.spec!.ports![0]!.port });
    }
  });

  it("gives the router its health check for readiness only: it is NOT_SERVING while the classifier is away", () => {
    const { container } = deploymentOf(endpoints.find((e) => e.name === "tiermesh-router")!);
    expect(container.readinessProbe!.grpc).toBeDefined();
    expect(container.livenessProbe!.grpc).toBeUndefined();
    expect(container.livenessProbe!.httpGet?.path).toBe("/metrics");
  });

  it("scales the router with an HPA on CPU, the Deployment leaving the count to it", () => {
    const [hpa] = ofKind("HorizontalPodAutoscaler");
    expect(hpa!.spec!.scaleTargetRef).toMatchObject({ kind: "Deployment", name: "tiermesh-router" });
    expect(hpa!.spec!.minReplicas).toBeGreaterThanOrEqual(2);
    const router = named("Deployment", "tiermesh-router")!;
    expect(router.spec!.replicas).toBeUndefined();
    expect(router.spec!.template!.spec.containers[0]!.resources?.requests?.cpu).toBeTruthy();
  });

  it("reaches NATS and the provider at the Services that run them", () => {
    const nats = new URL(config.nats.url);
    const natsService = named("Service", nats.hostname)!;
    expect(natsService.spec!.ports!.find((p) => p.name === "client")!.port).toBe(Number(nats.port));
    const natsSet = named("StatefulSet", nats.hostname)!;
    const natsContainer = natsSet.spec!.template!.spec.containers[0]!;
    expect(natsContainer.args).toContain("--jetstream");
    expect(natsContainer.ports!.find((p) => p.name === "client")!.containerPort).toBe(Number(nats.port));
    const provider = new URL(config.providers["sim"]!.base_url);
    const sim = endpoints.find((e) => e.name === provider.hostname)!;
    expect(sim.port).toBe(Number(provider.port));
  });

  it("runs the image of the root Dockerfile with the config from the ConfigMap", () => {
    const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    const [generator] = kustomization.configMapGenerator;
    for (const e of endpoints) {
      const { deployment, container } = deploymentOf(e);
      expect(kustomization.images.map((i) => i.name)).toContain(container.image);
      // The script is built from a service's main.ts, relative to the image's working directory.
      expect(existsSync(join(root, e.script.replace("/dist/main.js", "/src/main.ts"))), e.script).toBe(true);
      const args = container.args ?? [];
      const configPath = args[args.indexOf("--config") + 1]!;
      const mount = container.volumeMounts!.find((m) => configPath === `${m.mountPath}/${configFiles[0]}`);
      expect(mount, `${deployment.metadata.name} mounts ${configPath}`).toBeDefined();
      const volume = deployment.spec!.template!.spec.volumes!.find((v) => v.name === mount!.name);
      expect(volume?.configMap?.name).toBe(generator!.name);
    }
  });
});

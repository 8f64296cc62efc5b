import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseConfig, type Config } from "@tiermesh/config";
import { LIVENESS_SERVICE } from "@tiermesh/runtime";
import { beforeAll, describe, expect, it } from "vitest";
import { deployPath, endpointsOf, readYaml, root, type Endpoint } from "../support/deploy-files.js";
import { kustomize, type K8sObject } from "../support/kustomize.js";
import { schemaProblems } from "../support/kubernetes-schema.js";

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
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } } }[];
  envFrom?: unknown[];
  ports?: { name: string; containerPort: number }[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  resources?: { requests?: { cpu?: string; memory?: string }; limits?: { cpu?: string; memory?: string } };
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
  spec: { containers: Container[]; volumes?: { name: string; configMap?: { name: string } }[] };
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    selector: { matchLabels: Record<string, string> };
    template: PodTemplate;
    volumeClaimTemplates?: { metadata: { name: string } }[];
  };
}
interface Service extends K8sObject {
  spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: number | string }[] };
}
interface Hpa extends K8sObject {
  spec: { scaleTargetRef: { apiVersion: string; kind: string; name: string }; minReplicas: number; maxReplicas: number };
}
interface Pdb extends K8sObject {
  spec: { selector: { matchLabels: Record<string, string> }; minAvailable?: number | string; maxUnavailable?: number | string };
}
interface ConfigMap extends K8sObject {
  data: Record<string, string>;
}
interface Kustomization {
  bases?: string[];
  resources?: string[];
  patchesStrategicMerge?: string[];
  patchesJson6902?: { target: { group?: string; version: string; kind: string; name: string }; path?: string; patch?: string }[];
  configMapGenerator?: { name: string; files?: string[] }[];
  secretGenerator?: { files?: string[]; env?: string }[];
}

const kubernetesDir = deployPath("kubernetes");
const kustomizationOf = (folder: string) => readYaml<Kustomization>(join(kubernetesDir, folder, "kustomization.yaml"));
/** The objects each overlay renders, committed: whichever kubectl renders them is held to it. */
const OBJECTS_FILE = join(root, "test", "deploy", "kubernetes-objects.yaml");

/**
 * The fields of a kustomization that kustomize v2.0.3 reads, the one in kubectl 1.14 to 1.20
 * (Debian 12's kubernetes-client is 1.20); it fails on any other (v5's `patches:`, `labels:`, …),
 * and v5 still reads all of these, some of them with a deprecation warning.
 */
const KUSTOMIZE_V2_FIELDS = [
  "apiVersion",
  "kind",
  "namePrefix",
  "nameSuffix",
  "namespace",
  "commonLabels",
  "commonAnnotations",
  "patchesStrategicMerge",
  "patchesJson6902",
  "images",
  "vars",
  "resources",
  "crds",
  "bases",
  "configMapGenerator",
  "secretGenerator",
  "generatorOptions",
  "configurations",
];
const OVERLAYS = ["local", "production"] as const;
const CONFIG_FILE = "tiermesh.yaml";
const CONFIG_MOUNT = "/etc/tiermesh";
const KEYS_SECRET = "tiermesh-provider-keys";

/** Kubernetes memory quantities in MiB (the suffixes these manifests use). */
function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`unexpected memory quantity ${quantity}`);
  return Number(m[1]) * (m[2] === "Gi" ? 1024 : 1);
}

/** The old-space limit every service runs with: NODE_OPTIONS of the image (the Dockerfile). */
const oldSpaceMiB = Number(/--max-old-space-size=(\d+)/.exec(readFileSync(join(root, "Dockerfile"), "utf8"))?.[1]);

/** A rendered overlay, and the config its ConfigMap carries, through the real schema. */
class Rendered {
  readonly config: Config;
  readonly endpoints: Endpoint[];
  readonly configMap: ConfigMap;

  constructor(readonly objects: K8sObject[]) {
    const maps = this.ofKind<ConfigMap>("ConfigMap").filter((c) => c.data?.[CONFIG_FILE] !== undefined);
    expect(maps, "one ConfigMap with the config").toHaveLength(1);
    this.configMap = maps[0]!;
    this.config = parseConfig(this.configMap.data[CONFIG_FILE]!, `ConfigMap ${this.configMap.metadata.name}`, {});
    this.endpoints = endpointsOf(this.config);
  }

  ofKind<T extends K8sObject>(kind: string): T[] {
    return this.objects.filter((o) => o.kind === kind) as T[];
  }

  named<T extends K8sObject>(kind: string, name: string): T | undefined {
    return this.ofKind<T>(kind).find((o) => o.metadata.name === name);
  }

  /** The Deployment running an endpoint: the one whose container runs its script (and tier). */
  deploymentOf(e: Endpoint): { deployment: Workload; container: Container } {
    for (const deployment of this.ofKind<Workload>("Deployment")) {
      for (const container of deployment.spec.template.spec.containers) {
        const words = [...(container.command ?? []), ...(container.args ?? [])];
        const tier = words[words.indexOf("--tier") + 1];
        if (words.includes(e.script) && (e.tier === undefined || tier === e.tier)) return { deployment, container };
      }
    }
    throw new Error(`no Deployment runs ${e.script}${e.tier ? ` --tier ${e.tier}` : ""}`);
  }

  /** The objects of a kind whose selector picks the pods of a workload. */
  selecting<T extends K8sObject>(kind: string, workload: Workload, selector: (o: T) => Record<string, string>): T[] {
    const labels = workload.spec.template.metadata.labels;
    return this.ofKind<T>(kind).filter((o) => Object.entries(selector(o)).every(([k, v]) => labels[k] === v));
  }
}

/** The port a Service port's targetPort names on the pods it selects. */
function targetPort(port: { targetPort: number | string }, pods: PodTemplate): number | undefined {
  if (typeof port.targetPort === "number") return port.targetPort;
  return pods.spec.containers.flatMap((c) => c.ports ?? []).find((p) => p.name === port.targetPort)?.containerPort;
}

/** Files a kustomization names (resources, patches, generator inputs), relative to its folder. */
function filesNamedBy(k: Kustomization): string[] {
  return [
    ...(k.resources ?? []),
    ...(k.patchesStrategicMerge ?? []),
    ...(k.patchesJson6902 ?? []).flatMap((p) => (p.path ? [p.path] : [])),
    ...(k.configMapGenerator ?? []).flatMap((g) => g.files ?? []),
    ...(k.secretGenerator ?? []).flatMap((g) => [...(g.files ?? []), ...(g.env ? [g.env] : [])]),
  ].map((f) => f.split("=").pop()!);
}

/** The files under a folder (its subfolders' too), relative to it. */
function filesUnder(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix)).flatMap((f) => {
    const path = prefix ? `${prefix}/${f}` : f;
    return statSync(join(dir, path)).isDirectory() ? filesUnder(dir, path) : [path];
  });
}

describe("deploy/kubernetes: the kustomizations", () => {
  const folders = ["base", ...OVERLAYS.map((o) => `overlays/${o}`)];

  it.each(folders)("%s names every file of its folder (and of its subfolders), and only files that exist", (folder) => {
    const dir = join(kubernetesDir, folder);
    const k = kustomizationOf(folder);
    const named = filesNamedBy(k);
    for (const f of named) expect(existsSync(join(dir, f)) && statSync(join(dir, f)).isFile(), `${folder}: ${f} is a file`).toBe(true);
    const files = filesUnder(dir).filter((f) => f !== "kustomization.yaml");
    expect([...new Set(named.filter((f) => !f.startsWith("../")))].sort()).toEqual(files.sort());
  });

  it.each(folders)("%s keeps to the fields and forms that kubectl 1.20's kustomize (v2.0.3) reads, as v5 does", (folder) => {
    // kubectl 1.20's kustomize reads only files under resources: (a directory goes under bases:),
    // patches only from files (no inline patch:), and a JSON patch's target names one object.
    const dir = join(kubernetesDir, folder);
    const k = kustomizationOf(folder);
    expect(
      Object.keys(k).filter((f) => !KUSTOMIZE_V2_FIELDS.includes(f)),
      `${folder}: fields kustomize v2.0.3 does not know`,
    ).toEqual([]);
    for (const r of k.resources ?? [])
      expect(statSync(join(dir, r)).isFile(), `${folder}: resources: ${r} is a file (a directory goes under bases:)`).toBe(true);
    for (const b of k.bases ?? [])
      expect(existsSync(join(dir, b, "kustomization.yaml")), `${folder}: bases: ${b} is a kustomization`).toBe(true);
    for (const p of k.patchesStrategicMerge ?? [])
      expect(typeof p === "string" && !p.includes("\n"), `${folder}: a strategic merge patch from a file`).toBe(true);
    for (const p of k.patchesJson6902 ?? []) {
      const where = `${folder}: JSON patch of ${p.target.kind} ${p.target.name}`;
      expect(p.patch, `${where} is read from a file`).toBeUndefined();
      expect(p.path, `${where} names its file`).toBeTruthy();
      expect(p.target.version && p.target.kind, `${where} names a version and kind`).toBeTruthy();
      expect(p.target.name, `${where} names one object, not a pattern`).toMatch(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);
    }
  });

  it("has overlays that build on the base, and a base that no overlay leaves out", () => {
    for (const overlay of OVERLAYS) {
      expect(kustomizationOf(`overlays/${overlay}`).bases ?? [], `${overlay}: bases`).toContain("../../base");
    }
    expect(readdirSync(join(kubernetesDir, "overlays")).sort()).toEqual([...OVERLAYS].sort());
  });
});

describe.each(OVERLAYS)("deploy/kubernetes/overlays/%s, as kubectl kustomize renders it", (overlay) => {
  let r: Rendered;
  beforeAll(() => {
    r = new Rendered(kustomize(join(kubernetesDir, "overlays", overlay)));
  });

  it("renders the objects test/deploy/kubernetes-objects.yaml lists, in its order, whichever kubectl renders it", () => {
    const generated = (kustomizationOf(`overlays/${overlay}`).configMapGenerator ?? []).map((g) => g.name);
    const listed = r.objects.map((o) => {
      const base = generated.find((g) => o.kind === "ConfigMap" && new RegExp(`^${g}-[a-z0-9]{10}$`).test(o.metadata.name));
      const name = base ? `${base}-<hash>` : o.metadata.name;
      return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${name}`;
    });
    expect(listed, `the objects of overlays/${overlay} (update test/deploy/kubernetes-objects.yaml along with a manifest)`).toEqual(
      readYaml<Record<string, string[]>>(OBJECTS_FILE)[overlay],
    );
  });

  it("renders objects that are valid against the Kubernetes schema, all in the tiermesh namespace", async () => {
    expect(r.objects.length).toBeGreaterThan(20);
    const problems = (await Promise.all(r.objects.map((o) => schemaProblems(o)))).flat();
    expect(problems).toEqual([]);
    for (const o of r.objects) {
      if (o.kind === "Namespace") expect(o.metadata.name).toBe("tiermesh");
      else expect(o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe("tiermesh");
    }
    const names = r.objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(
      names.filter((n, i) => names.indexOf(n) !== i),
      "duplicate objects",
    ).toEqual([]);
  });

  it("runs every process of its config, each as its own Deployment behind its own Service", () => {
    const deployments = new Set(r.endpoints.map((e) => r.deploymentOf(e).deployment.metadata.name));
    expect(deployments.size).toBe(r.endpoints.length);
    expect(r.ofKind("Deployment")).toHaveLength(r.endpoints.length);
    expect(r.endpoints.map((e) => e.tier).filter(Boolean)).toEqual(Object.keys(r.config.tiers));
  });

  it("listens, probes, publishes and scrapes on the ports the config gives, under the names it uses", () => {
    for (const e of r.endpoints) {
      const { deployment, container } = r.deploymentOf(e);
      const where = deployment.metadata.name;
      const pods = deployment.spec.template;
      expect(
        container.ports?.map((p) => p.containerPort),
        where,
      ).toEqual([e.port]);
      for (const probe of [container.readinessProbe, container.livenessProbe]) {
        expect(probe, `${where} probes`).toBeDefined();
        const port = probe!.grpc?.port ?? probe!.httpGet?.port;
        expect(typeof port === "number" ? port : container.ports!.find((p) => p.name === port)?.containerPort, `${where} probe port`).toBe(
          e.port,
        );
      }
      const annotations = pods.metadata.annotations ?? {};
      if (e.metrics) expect(annotations["prometheus.io/port"], `${where} scrape port`).toBe(String(e.port));
      else expect(annotations["prometheus.io/scrape"], `${where} has no /metrics`).toBeUndefined();
      const services = r.selecting<Service>("Service", deployment, (s) => s.spec.selector);
      expect(
        services.map((s) => s.metadata.name),
        `Services selecting ${where}`,
      ).toEqual([e.name]);
      const service = services[0]!;
      expect(
        service.spec.ports.map((p) => [p.port, targetPort(p, pods)]),
        where,
      ).toEqual([[e.port, e.port]]);
      if (e.reachedAt)
        expect(e.reachedAt, `${where}: the config's url`).toEqual({ host: service.metadata.name, port: service.spec.ports[0]!.port });
    }
  });

  it(`probes gRPC services on grpc.health.v1: readiness on the server's status, liveness on "${LIVENESS_SERVICE}"`, () => {
    // The router reports NOT_SERVING while it has no policy from the classifier: readiness takes
    // it out of its Service, but it is waiting, not broken, and liveness must not restart it.
    for (const e of r.endpoints.filter((e) => e.name !== "tiermesh-simulator")) {
      const { deployment, container } = r.deploymentOf(e);
      expect(container.readinessProbe!.grpc, deployment.metadata.name).toEqual({ port: e.port });
      expect(container.livenessProbe!.grpc, deployment.metadata.name).toEqual({ port: e.port, service: LIVENESS_SERVICE });
    }
  });

  it("sizes every Deployment of the mesh with its own HorizontalPodAutoscaler, the Deployment leaving the count to it", () => {
    for (const e of r.endpoints.filter((e) => e.name !== "tiermesh-simulator")) {
      const { deployment, container } = r.deploymentOf(e);
      const where = deployment.metadata.name;
      const hpas = r.ofKind<Hpa>("HorizontalPodAutoscaler").filter((h) => h.spec.scaleTargetRef.name === where);
      expect(hpas, `HPAs of ${where}`).toHaveLength(1);
      expect(hpas[0]!.spec.scaleTargetRef).toEqual({ apiVersion: "apps/v1", kind: "Deployment", name: where });
      expect(hpas[0]!.spec.minReplicas, where).toBeLessThanOrEqual(hpas[0]!.spec.maxReplicas);
      expect(deployment.spec.replicas, `${where} has no replicas: its HPA owns them`).toBeUndefined();
      // Utilization is measured against the request.
      expect(container.resources?.requests?.cpu, `${where} requests CPU`).toBeTruthy();
    }
    expect(r.ofKind("HorizontalPodAutoscaler")).toHaveLength(r.endpoints.filter((e) => e.name !== "tiermesh-simulator").length);
  });

  it("runs NATS with JetStream, its store on a persistent volume, at the config's url", () => {
    const nats = new URL(r.config.nats.url);
    const service = r.named<Service>("Service", nats.hostname)!;
    expect(service, `Service ${nats.hostname}`).toBeDefined();
    expect(service.spec.ports.find((p) => p.name === "client")!.port).toBe(Number(nats.port));
    const set = r.named<Workload>("StatefulSet", nats.hostname)!;
    const container = set.spec.template.spec.containers[0]!;
    expect(container.args).toContain("--jetstream");
    expect(container.ports!.find((p) => p.name === "client")!.containerPort).toBe(Number(nats.port));
    const store = container.args![container.args!.indexOf("--store_dir") + 1];
    const mount = container.volumeMounts!.find((m) => m.mountPath === store);
    expect(mount, `a volume at --store_dir ${store}`).toBeDefined();
    expect(set.spec.volumeClaimTemplates!.map((v) => v.metadata.name)).toContain(mount!.name);
  });

  it("runs the image of the root Dockerfile with the config of the generated ConfigMap", () => {
    // The generated name carries a hash of the content, so a changed config rolls every Deployment.
    expect(r.configMap.metadata.name).toMatch(/^tiermesh-config-[a-z0-9]{10}$/);
    const images = new Set<string>();
    for (const e of r.endpoints) {
      const { deployment, container } = r.deploymentOf(e);
      images.add(container.image);
      // The script is built from a service's main.ts, relative to the image's working directory.
      expect(existsSync(join(root, e.script.replace(/\/dist\/main(\.bundle\.mjs|\.js)$/, "/src/main.ts"))), e.script).toBe(true);
      const args = container.args ?? [];
      expect(args[args.indexOf("--config") + 1], deployment.metadata.name).toBe(`${CONFIG_MOUNT}/${CONFIG_FILE}`);
      const mount = container.volumeMounts!.find((m) => m.mountPath === CONFIG_MOUNT);
      expect(mount, `${deployment.metadata.name} mounts ${CONFIG_MOUNT}`).toBeDefined();
      const volume = deployment.spec.template.spec.volumes!.find((v) => v.name === mount!.name);
      expect(volume?.configMap?.name, deployment.metadata.name).toBe(r.configMap.metadata.name);
    }
    expect([...images]).toHaveLength(1);
  });

  it("gives each executor the key of every provider its tier uses, from the Secret, and nothing else any secret", () => {
    for (const e of r.endpoints) {
      const { deployment, container } = r.deploymentOf(e);
      const fromSecrets = (container.env ?? []).filter((v) => v.valueFrom?.secretKeyRef);
      expect(container.envFrom, deployment.metadata.name).toBeUndefined();
      const needed = e.tier
        ? [...new Set(r.config.tiers[e.tier]!.models.flatMap((m) => r.config.providers[m.provider]!.api_key_env ?? []))].sort()
        : [];
      expect(fromSecrets.map((v) => v.name).sort(), `${deployment.metadata.name}: keys`).toEqual(needed);
      for (const v of fromSecrets) expect(v.valueFrom!.secretKeyRef, v.name).toEqual({ name: KEYS_SECRET, key: v.name });
    }
  });
});

describe("deploy/kubernetes/overlays/local", () => {
  let r: Rendered;
  beforeAll(() => {
    r = new Rendered(kustomize(join(kubernetesDir, "overlays", "local")));
  });

  it("runs one replica of everything, the simulated provider included, which the tiers call", () => {
    for (const hpa of r.ofKind<Hpa>("HorizontalPodAutoscaler"))
      expect([hpa.spec.minReplicas, hpa.spec.maxReplicas], hpa.metadata.name).toEqual([1, 1]);
    expect(r.named<Workload>("Deployment", "tiermesh-simulator")!.spec.replicas).toBe(1);
    const sim = r.endpoints.find((e) => e.name === "tiermesh-simulator")!;
    for (const [name, provider] of Object.entries(r.config.providers)) {
      const url = new URL(provider.base_url);
      expect({ host: url.hostname, port: Number(url.port) }, `providers.${name}`).toEqual({ host: sim.name, port: sim.port });
    }
  });
});

describe("the schema check", () => {
  it("rejects what the API server would: wrong types, malformed quantities, a kind it does not know", async () => {
    const [deployment] = kustomize(join(kubernetesDir, "overlays", "local")).filter((o) => o.kind === "Deployment") as Workload[];
    expect(await schemaProblems(deployment!)).toEqual([]);
    const broken = structuredClone(deployment!);
    broken.spec.replicas = "2" as unknown as number;
    const container = broken.spec.template.spec.containers[0]!;
    container.livenessProbe = { grpc: { port: "grpc" as unknown as number } };
    container.resources = { limits: { memory: "512 MiB" } };
    const problems = (await schemaProblems(broken)).join("\n");
    expect(problems).toContain("spec/replicas must be integer");
    expect(problems).toContain("livenessProbe/grpc/port must be integer");
    expect(problems).toContain("resources/limits/memory");
    expect(await schemaProblems({ ...deployment!, apiVersion: "apps/v1beta9" })).toEqual([
      expect.stringContaining("no schema for apiVersion apps/v1beta9"),
    ]);
  });
});

describe("deploy/kubernetes/overlays/production", () => {
  let r: Rendered;
  beforeAll(() => {
    r = new Rendered(kustomize(join(kubernetesDir, "overlays", "production")));
  });

  it("runs no simulator, and its tiers call providers outside the cluster", () => {
    expect(r.config.simulator).toBeUndefined();
    expect(r.objects.filter((o) => o.metadata.name.includes("simulator"))).toEqual([]);
    for (const [name, provider] of Object.entries(r.config.providers)) {
      expect(new URL(provider.base_url).protocol, `providers.${name}`).toBe("https:");
      expect(provider.api_key_env, `providers.${name}.api_key_env`).toBeTruthy();
    }
  });

  it("keeps at least two replicas of every service, and a PodDisruptionBudget that leaves one serving", () => {
    for (const e of r.endpoints) {
      const { deployment } = r.deploymentOf(e);
      const where = deployment.metadata.name;
      const hpa = r.ofKind<Hpa>("HorizontalPodAutoscaler").find((h) => h.spec.scaleTargetRef.name === where)!;
      expect(hpa.spec.minReplicas, where).toBeGreaterThanOrEqual(2);
      const pdbs = r.selecting<Pdb>("PodDisruptionBudget", deployment, (p) => p.spec.selector.matchLabels);
      expect(
        pdbs.map((p) => p.metadata.name),
        `PDBs of ${where}`,
      ).toEqual([where]);
      const { maxUnavailable, minAvailable } = pdbs[0]!.spec;
      if (maxUnavailable !== undefined) expect(maxUnavailable, where).toBeLessThan(hpa.spec.minReplicas);
      else expect(minAvailable, where).toBeGreaterThanOrEqual(1);
      // A budget that selects pods of other Deployments too would hold them to it as well.
      expect(
        r
          .ofKind<Workload>("Deployment")
          .filter((d) => Object.entries(pdbs[0]!.spec.selector.matchLabels).every(([k, v]) => d.spec.template.metadata.labels[k] === v)),
      ).toHaveLength(1);
    }
  });

  it(`requests CPU and memory, and limits memory with room above the ${oldSpaceMiB} MB heap NODE_OPTIONS allows`, () => {
    expect(oldSpaceMiB).toBeGreaterThan(0);
    for (const e of r.endpoints) {
      const { deployment, container } = r.deploymentOf(e);
      const where = deployment.metadata.name;
      const { requests, limits } = container.resources ?? {};
      expect(requests?.cpu, `${where} cpu request`).toBeTruthy();
      expect(mebibytes(requests!.memory!), `${where} memory request`).toBeGreaterThan(0);
      expect(mebibytes(limits!.memory!), `${where} memory limit`).toBeGreaterThanOrEqual(oldSpaceMiB + 128);
      expect(mebibytes(limits!.memory!), `${where} memory limit`).toBeGreaterThanOrEqual(mebibytes(requests!.memory!));
    }
  });
});

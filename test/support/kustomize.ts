import { spawnSync } from "node:child_process";
import { parseAllDocuments } from "yaml";

/** kubectl from Debian's kubernetes-client; TIERMESH_KUBECTL names another binary. */
const KUBECTL = process.env["TIERMESH_KUBECTL"] ?? "kubectl";

export class KubectlMissingError extends Error {
  override readonly name = "KubectlMissingError";
}

/** A Kubernetes object as rendered: the fields every kind has, the rest as it comes. */
export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

/**
 * The objects `kubectl kustomize <dir>` renders, offline (kustomize as built into kubectl, no
 * cluster needed). Fails with how to install kubectl when it is missing, and with kustomize's
 * own message when the kustomization is wrong.
 */
export function kustomize(dir: string): K8sObject[] {
  const run = spawnSync(KUBECTL, ["kustomize", dir], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024 });
  if (run.error && (run.error as NodeJS.ErrnoException).code === "ENOENT") {
    throw new KubectlMissingError(
      `rendering deploy/kubernetes needs kubectl (${KUBECTL}): install Debian's kubernetes-client with \`apt-get install -y kubernetes-client\` (or set TIERMESH_KUBECTL)`,
    );
  }
  if (run.error) throw run.error;
  if (run.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${run.stderr.trim()}${tooOld()}`);
  return parseAllDocuments(run.stdout).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`kubectl kustomize ${dir}, document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/**
 * Why a render may have failed with kubectl 1.20 or older: Debian 12's kubernetes-client is
 * 1.20, whose kustomize (v2.0.3) fails on fields and forms that later ones added (`patches:`,
 * a directory under `resources:`, an inline patch), which these kustomizations keep away from.
 */
function tooOld(): string {
  const run = spawnSync(KUBECTL, ["version", "--client", "-o", "json"], { encoding: "utf8" });
  const minor = Number(/"minor":\s*"(\d+)/.exec(run.stdout ?? "")?.[1]);
  if (!(minor < 21)) return "";
  if (minor < 14) return `\n(kubectl 1.${minor} has no kustomize: install kubectl 1.14 or later, or set TIERMESH_KUBECTL to one)`;
  return `\n(kubectl 1.${minor} embeds kustomize v2.0.3: keep deploy/kubernetes to what it reads, a directory under \`bases:\` and patches from files under \`patchesJson6902:\` or \`patchesStrategicMerge:\`, as README's Deployment section says)`;
}

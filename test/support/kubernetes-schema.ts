/**
 * Validation of Kubernetes objects against the API's OpenAPI schema, with the validators
 * kubernetes-models generates from it (Kubernetes 1.27): types, required fields, enums and
 * formats (quantities, int-or-string). Like the API's schema, it lets unknown fields through;
 * the checks of test/deploy read the fields that matter by name.
 */
import type { K8sObject } from "./kustomize.js";

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** The model of an apiVersion and kind: `apps/v1` Deployment is kubernetes-models/apps/v1's Deployment. */
async function modelOf(o: K8sObject): Promise<ModelClass> {
  let module: Record<string, unknown>;
  try {
    module = (await import(/* @vite-ignore */ `kubernetes-models/${o.apiVersion}`)) as Record<string, unknown>;
  } catch (cause) {
    throw new Error(`no schema for apiVersion ${o.apiVersion} (${o.kind} ${o.metadata?.name})`, { cause });
  }
  const model = module[o.kind];
  if (typeof model !== "function") throw new Error(`no schema for ${o.apiVersion} ${o.kind} (${o.metadata?.name})`);
  return model as ModelClass;
}

/** Problems of an object against its kind's schema, each naming the object and the field; [] when valid. */
export async function schemaProblems(o: K8sObject): Promise<string[]> {
  const where = `${o.kind}/${o.metadata?.name ?? "?"}`;
  let Model: ModelClass;
  try {
    Model = await modelOf(o);
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
  try {
    new Model(o).validate();
    return [];
  } catch (err) {
    return [`${where}: ${(err as Error).message}`];
  }
}

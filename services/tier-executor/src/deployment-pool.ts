import type { DeploymentConfig } from "@tiermesh/config";

export interface Deployment {
  id: string;
  provider: string;
  model: string;
  weight: number;
  price: DeploymentConfig["price"];
}

/** A tier's model pool with weighted random selection. */
export class DeploymentPool {
  readonly deployments: readonly Deployment[];

  constructor(models: readonly DeploymentConfig[], private readonly random: () => number = Math.random) {
    this.deployments = models.map((m) => ({ ...m, id: m.id ?? `${m.provider}/${m.model}` }));
  }

  /** Picks by weight, preferring deployments not in `tried`; all tried means any may be picked again. */
  pick(tried: ReadonlySet<string>): Deployment {
    const fresh = this.deployments.filter((d) => !tried.has(d.id));
    const candidates = fresh.length > 0 ? fresh : this.deployments;
    let total = 0;
    for (const d of candidates) total += d.weight;
    let point = this.random() * total;
    for (const d of candidates) {
      point -= d.weight;
      if (point < 0) return d;
    }
    return candidates[candidates.length - 1]!;
  }
}

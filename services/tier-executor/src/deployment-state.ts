import type { BreakerConfig, DeploymentConfig } from "@tiermesh/config";
import { CircuitBreaker } from "./circuit-breaker.js";
import { Ewma } from "./deployment-selector.js";

export interface Deployment {
  id: string;
  provider: string;
  model: string;
  weight: number;
  price: DeploymentConfig["price"];
}

/** What the executor tracks of one deployment: its breaker, load, speed and 429 cooldown. */
export class DeploymentState {
  readonly breaker: CircuitBreaker;
  readonly ttft = new Ewma();
  outstanding = 0;
  /** Epoch ms until which the provider asked us (429 Retry-After) not to call. */
  coolingUntil = 0;

  constructor(
    readonly deployment: Deployment,
    breaker: BreakerConfig,
    now: () => number,
  ) {
    this.breaker = new CircuitBreaker(breaker, now);
  }

  static fromConfig(models: readonly DeploymentConfig[], breaker: BreakerConfig, now: () => number): DeploymentState[] {
    return models.map((m) => new DeploymentState({ ...m, id: m.id ?? `${m.provider}/${m.model}` }, breaker, now));
  }
}

import { Counter, createMetricsRegistry, Gauge, type Registry } from "@tiermesh/runtime";
import type { PublishedPolicy } from "./published-policy.js";

export interface ClassifierMetrics {
  readonly registry: Registry;
  /** One Classify call answered, with the tier it assigned. */
  classified(tier: string): void;
  /** A new policy version was published to the watching routers. */
  published(): void;
}

/**
 * The classifier's Prometheus metrics: the policy version it publishes and since when, how
 * many routers watch it (a router that lost its watch classifies on its last snapshot and
 * says so in its own metrics), publications, and Classify calls by assigned tier.
 */
export function createClassifierMetrics(policy: PublishedPolicy): ClassifierMetrics {
  const registry = createMetricsRegistry("classifier");
  new Gauge({
    name: "tiermesh_classifier_policy_info",
    help: "1 for the policy version the classifier publishes (label version)",
    labelNames: ["version"],
    registers: [registry],
    collect() {
      this.reset();
      this.set({ version: policy.current.encoding.version }, 1);
    },
  });
  new Gauge({
    name: "tiermesh_classifier_policy_loaded_timestamp_seconds",
    help: "When the policy in force was loaded (Unix seconds)",
    registers: [registry],
    collect() {
      this.set(policy.current.loadedAtMs / 1_000);
    },
  });
  new Gauge({
    name: "tiermesh_classifier_policy_watchers",
    help: "Policy watch streams open (one per router replica, one-process routers included)",
    registers: [registry],
    collect() {
      this.set(policy.watcherCount);
    },
  });
  const publications = new Counter({
    name: "tiermesh_classifier_policy_publications_total",
    help: "New policy versions published to the watching routers (a reload that changes nothing publishes nothing)",
    registers: [registry],
  });
  const classified = new Counter({
    name: "tiermesh_classifier_classify_total",
    help: "Classify calls answered, by the tier assigned (routers classify locally; these are other services' calls)",
    labelNames: ["tier"],
    registers: [registry],
  });
  return {
    registry,
    classified: (tier) => classified.inc({ tier }),
    published: () => publications.inc(),
  };
}

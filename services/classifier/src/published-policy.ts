import type { Config } from "@tiermesh/config";
import { compileTierPolicy, encodePolicy, policyDocument, type Classify, type PolicyEncoding } from "@tiermesh/policy";

export interface PolicyRelease {
  classify: Classify;
  encoding: PolicyEncoding;
  loadedAtMs: number;
}

/**
 * The classifier's current policy, compiled for its own Classify RPC and encoded for the
 * routers that watch it. Watchers are told of every new version.
 */
export class PublishedPolicy {
  private release: PolicyRelease;
  private readonly watchers = new Set<() => void>();

  constructor(config: Config) {
    this.release = PublishedPolicy.build(config);
  }

  get current(): PolicyRelease {
    return this.release;
  }

  /** Replaces the policy; watchers hear of it only when its content changed. */
  update(config: Config): boolean {
    const next = PublishedPolicy.build(config);
    if (next.encoding.version === this.release.encoding.version) return false;
    this.release = next;
    for (const notify of this.watchers) notify();
    return true;
  }

  /** Calls `notify` after every change until the returned function is called. */
  watch(notify: () => void): () => void {
    this.watchers.add(notify);
    return () => this.watchers.delete(notify);
  }

  get watcherCount(): number {
    return this.watchers.size;
  }

  private static build(config: Config): PolicyRelease {
    const doc = policyDocument(config);
    return { classify: compileTierPolicy(doc), encoding: encodePolicy(doc), loadedAtMs: Date.now() };
  }
}

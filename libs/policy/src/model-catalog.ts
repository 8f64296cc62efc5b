import { Code, ConnectError } from "@connectrpc/connect";
import type { TierLadder } from "@tiermesh/config";
import { ERROR_REASON_HEADER, MODEL_NOT_FOUND } from "@tiermesh/proto";
import type { PolicyDocument } from "./policy-document.js";

/** The name of the automatic choice: the tier the plan and rules give. */
export const AUTO_MODEL = "auto";
/** `owned_by` of the names tiermesh itself defines: `auto`, tiers and rule aliases. */
export const TIERMESH_OWNER = "tiermesh";

/** A model name a caller may ask for. */
export interface ModelEntry {
  id: string;
  /** "tiermesh" for auto, tiers and aliases; the provider for a pool's model. */
  ownedBy: string;
  /** The tier the name asks for; undefined for auto and aliases (the plan and rules decide). */
  tier: string | undefined;
}

/**
 * The model names callers may use, and what each asks for: `auto` (the plan and rules decide),
 * a tier's name (that tier), a model of a tier's pool (the highest allowed tier whose pool has
 * it), or an alias the classifier's rules match on (`when.models`; the rules decide). A plan
 * may use the tiers from its floor to its ceiling, and the pool models of those tiers; a name
 * outside them is not found, as a name that does not exist, so a model name never raises a
 * request's tier.
 */
export class ModelCatalog {
  /** Pool models: name → provider and tiers having it, highest first. */
  private readonly pools = new Map<string, { provider: string; tiers: string[] }>();
  private readonly aliases: readonly string[];

  constructor(
    private readonly doc: PolicyDocument,
    private readonly ladder: TierLadder,
  ) {
    for (const tier of ladder.names) {
      for (const m of doc.tiers[tier]?.models ?? []) {
        const entry = this.pools.get(m.model);
        if (entry) entry.tiers.push(tier);
        else this.pools.set(m.model, { provider: m.provider, tiers: [tier] });
      }
    }
    const named = doc.rules.flatMap((r) => r.when.models ?? []);
    this.aliases = [...new Set(named)].filter((m) => m !== AUTO_MODEL && !ladder.has(m) && !this.pools.has(m));
  }

  /** Every name a plan allowing `minTier`..`maxTier` may use: auto, tiers (highest first), pool models, aliases. */
  list(minTier: string, maxTier: string): ModelEntry[] {
    const allowed = this.allowed(minTier, maxTier);
    const entries: ModelEntry[] = [{ id: AUTO_MODEL, ownedBy: TIERMESH_OWNER, tier: undefined }];
    for (const tier of allowed) entries.push({ id: tier, ownedBy: TIERMESH_OWNER, tier });
    // Each pool model once, under the highest allowed tier that has it.
    for (const tier of allowed) {
      for (const m of this.doc.tiers[tier]?.models ?? []) {
        if (!entries.some((e) => e.id === m.model)) entries.push({ id: m.model, ownedBy: m.provider, tier });
      }
    }
    for (const id of this.aliases) entries.push({ id, ownedBy: TIERMESH_OWNER, tier: undefined });
    return entries;
  }

  /**
   * What `model` asks for under the plan: a tier, or undefined (auto, empty, an alias). Throws
   * NOT_FOUND (reason MODEL_NOT_FOUND) for any other name, and for one the plan may not use.
   */
  resolve(model: string, plan: string, minTier: string, maxTier: string): string | undefined {
    if (model === "" || model === AUTO_MODEL || this.aliases.includes(model)) return undefined;
    const allowed = this.allowed(minTier, maxTier);
    const tier = this.ladder.has(model)
      ? allowed.includes(model)
        ? model
        : undefined
      : this.pools.get(model)?.tiers.find((t) => allowed.includes(t));
    if (tier !== undefined) return tier;
    throw new ConnectError(`input.model: the model "${model}" does not exist or plan "${plan}" may not use it`, Code.NotFound, {
      [ERROR_REASON_HEADER]: MODEL_NOT_FOUND,
    });
  }

  private allowed(minTier: string, maxTier: string): string[] {
    const [min, max] = [this.ladder.rank(minTier), this.ladder.rank(maxTier)];
    return this.ladder.names.filter((t) => this.ladder.rank(t) >= min && this.ladder.rank(t) <= max);
  }
}

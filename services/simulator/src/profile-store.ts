import { modelProfileSchema, type ModelProfile, type ModelProfilePatch } from "./simulator-config.js";
import type { z } from "zod";

export type PatchResult = { ok: true; profile: ModelProfile } | { ok: false; error: z.ZodError };

/** Runtime profiles, seeded from config. Profiles are replaced, never mutated in place. */
export interface ProfileStore {
  get(model: string): ModelProfile | undefined;
  has(model: string): boolean;
  models(): string[];
  snapshot(): Record<string, ModelProfile>;
  /** Merges the patch into `model`'s current profile and validates the result. */
  preview(model: string, patch: ModelProfilePatch): PatchResult;
  set(model: string, profile: ModelProfile): void;
  reset(): void;
}

function mergePatch(base: ModelProfile, patch: ModelProfilePatch): unknown {
  return {
    ...base,
    ...patch,
    ttft_ms: { ...base.ttft_ms, ...patch.ttft_ms },
    inter_token_ms: { ...base.inter_token_ms, ...patch.inter_token_ms },
    output_tokens: { ...base.output_tokens, ...patch.output_tokens },
  };
}

export function createProfileStore(initial: Readonly<Record<string, ModelProfile>>): ProfileStore {
  const seed = structuredClone(initial);
  const current = new Map<string, ModelProfile>();
  const reset = (): void => {
    current.clear();
    for (const [model, profile] of Object.entries(seed)) current.set(model, structuredClone(profile));
  };
  reset();

  return {
    get: (model) => current.get(model),
    has: (model) => current.has(model),
    models: () => [...current.keys()],
    snapshot: () => structuredClone(Object.fromEntries(current)),
    preview(model, patch) {
      const base = current.get(model);
      if (base === undefined) throw new Error(`unknown model ${model}`);
      const parsed = modelProfileSchema.safeParse(mergePatch(base, patch));
      return parsed.success ? { ok: true, profile: parsed.data } : { ok: false, error: parsed.error };
    },
    set(model, profile) {
      current.set(model, profile);
    },
    reset,
  };
}

import type { DeploymentConfig, TierConfig } from "./tier-schema.js";

/** Tokens a chat format adds per message for role and separators (as the classifier counts). */
const MESSAGE_OVERHEAD_TOKENS = 4;
/** Characters per token assumed for the tier's own system prompt (no tokenizer needed). */
const CHARS_PER_TOKEN = 4;

/** What one request needs of a model's context window in one tier. */
export interface ContextNeed {
  /** The caller's messages plus the tier's system prompt. */
  promptTokens: number;
  /** Completion tokens the tier asks the provider for: the caller's max_tokens or the tier's default, capped. */
  maxTokens: number;
  /** Prompt plus completion: what the model's context window must hold. */
  total: number;
}

/** What a request asks of a tier, besides its messages. */
export interface TierDemand {
  /** The caller's max_tokens; 0 = the tier's default. */
  askedMaxTokens: number;
  tierName: string;
  tenant: string;
}

export interface ContextDemand extends TierDemand {
  /** Tokens of the caller's messages (the classifier's o200k_base count). */
  messageTokens: number;
}

/** The largest context window among a tier's deployments. */
export interface LargestWindow {
  /** Undefined when a deployment declares none: its window is unknown, so nothing is ruled out. */
  tokens: number | undefined;
  /** The deployment holding it, as `<provider>/<model>` unless it has an id. */
  deployment: string;
  model: string;
}

/** Completion tokens a tier asks the provider for, given the caller's max_tokens (0 = the tier's default). */
export function completionTokens(tier: TierConfig, asked: number): number {
  const { default_max_tokens, max_tokens_cap } = tier.prompt;
  return Math.min(asked > 0 ? asked : default_max_tokens, max_tokens_cap);
}

/** The tier's system prompt as sent for `tenant`, or undefined when the tier has none. */
export function systemPrompt(tier: TierConfig, tierName: string, tenant: string): string | undefined {
  return tier.prompt.system?.replaceAll("{{tier}}", tierName).replaceAll("{{tenant}}", tenant);
}

/**
 * What a request needs of a deployment's context window in `tier`. The tier's system prompt is
 * estimated (4 characters a token) so router and executor, neither of which holds the
 * classifier's tokenizer, reach the same number.
 */
export function contextNeed(tier: TierConfig, demand: ContextDemand): ContextNeed {
  const { systemTokens, maxTokens } = contextOverhead(tier, demand);
  const promptTokens = demand.messageTokens + systemTokens;
  return { promptTokens, maxTokens, total: promptTokens + maxTokens };
}

/**
 * What the tier adds to the caller's messages: its system prompt and the completion tokens it
 * asks for. A window holds the request when the messages take at most `window - total`, which
 * a prompt's byte length often settles without counting its tokens.
 */
export function contextOverhead(tier: TierConfig, demand: TierDemand): { systemTokens: number; maxTokens: number; total: number } {
  const system = systemPrompt(tier, demand.tierName, demand.tenant);
  const systemTokens = system === undefined ? 0 : Math.ceil(system.length / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD_TOKENS;
  const maxTokens = completionTokens(tier, demand.askedMaxTokens);
  return { systemTokens, maxTokens, total: systemTokens + maxTokens };
}

/** The smallest window a tier's deployments declare; undefined when none declares one. */
export function smallestWindow(tier: TierConfig): number | undefined {
  let smallest: number | undefined;
  for (const m of tier.models) {
    if (m.context_window !== undefined && (smallest === undefined || m.context_window < smallest)) smallest = m.context_window;
  }
  return smallest;
}

export function deploymentId(m: Pick<DeploymentConfig, "id" | "provider" | "model">): string {
  return m.id ?? `${m.provider}/${m.model}`;
}

/** Whether a window (undefined = unknown) can hold `total` tokens. */
export function windowFits(window: number | undefined, total: number): boolean {
  return window === undefined || window >= total;
}

/** The tier's largest context window; a deployment without one (unknown) counts as the largest. */
export function largestWindow(tier: TierConfig): LargestWindow {
  let best: DeploymentConfig | undefined;
  for (const m of tier.models) {
    if (m.context_window === undefined) return { tokens: undefined, deployment: deploymentId(m), model: m.model };
    if (best === undefined || m.context_window > best.context_window!) best = m;
  }
  return { tokens: best!.context_window, deployment: deploymentId(best!), model: best!.model };
}

/** "9,120": token counts as people read them in messages. */
export function formatTokens(n: number): string {
  return n.toLocaleString("en-US");
}

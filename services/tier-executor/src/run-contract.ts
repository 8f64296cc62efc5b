import type { CompletionInput } from "@tiermesh/proto";
import type { Context } from "@tiermesh/telemetry";
import type { Deployment } from "./deployment-state.js";
import type { ToolCallPiece } from "./providers/provider-adapter.js";

/** What a tier run is asked to serve, with what it yields and returns (see TierRunner). */
export interface RunRequest {
  input: CompletionInput;
  probe: boolean;
  tenant: string;
  /** Attempts this request may still make across layers; 0 = the tier's own limit. */
  maxAttempts: number;
  /** Probes only: call this deployment once, whatever its breaker says; refused while it cools down (429, Retry-After). */
  deployment?: string | undefined;
  /** Tokens of the input's messages as the classifier counted them; 0 or absent = count here. */
  promptTokens?: number | undefined;
  /** Continue this answer (text already delivered elsewhere); only deployments that can continue a prefix serve it. */
  assistantPrefix?: string | undefined;
  /** Tier the router classified the request into; reported with its outcomes (absent: not routed). */
  requestedTier?: string | undefined;
}

export interface RunContext {
  /** Absolute deadline, epoch ms. */
  deadline: number;
  signal: AbortSignal;
  /** The call's span (the executor's server span), parent of the provider calls' spans; absent when not traced. */
  trace?: Context | undefined;
}

export interface RunResult {
  deployment: Deployment;
  finishReason: string;
  promptTokens: number;
  completionTokens: number;
  usageEstimated: boolean;
  costUsd: number;
  attempts: number;
  ttftMs: number;
  totalMs: number;
  providerMs: number;
  cached: boolean;
  hedged: boolean;
  /** Times the answer was continued on another deployment after its stream failed. */
  continuations: number;
}

/** A piece of an answer: text, or a piece of a tool call. */
export type AnswerPiece = { type: "text"; text: string } | { type: "tool_call"; call: ToolCallPiece };

/**
 * What a run yields before its result: answer pieces, or (at most once, before any) the
 * advice to hedge on another tier because this one has nothing left to hedge on.
 */
export type RunEvent =
  | AnswerPiece
  | {
      type: "hedge_advice";
      /** Why the tier cannot hedge itself. */
      reason: string;
      /** How long the request had waited for a first token, from the start of the run. */
      waitedMs: number;
    };

import type { ProviderConfig } from "@tiermesh/config";

export interface ProviderMessage {
  role: string;
  /** The text; with `parts`, their text joined. */
  content: string;
  /** The content as parts (text and images), when it is not plain text. */
  parts?: readonly ContentPart[] | undefined;
  /** Assistant messages: the tool calls made in that turn. */
  toolCalls?: readonly ToolCall[] | undefined;
  /** Tool messages: the call answered. */
  toolCallId?: string | undefined;
}

export type ContentPart = { type: "text"; text: string } | { type: "image"; url: string; detail: string };

/** A whole tool call; `arguments` is JSON text. */
export interface ToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** A piece of a streamed tool call: id and name on a call's first piece, argument fragments after (see ToolCallDelta in the protocol). */
export interface ToolCallPiece {
  index: number;
  id: string;
  name: string;
  arguments: string;
}

export interface ToolSpec {
  name: string;
  description: string;
  /** JSON Schema of the arguments as JSON text; empty = none given. */
  parameters: string;
  strict: boolean;
}

/** "auto", "none", "required", or "function" with the function's name. */
export interface ToolChoice {
  mode: "auto" | "none" | "required" | "function";
  functionName: string;
}

export interface JsonSchemaFormat {
  name: string;
  description: string;
  /** The schema as JSON text. */
  schema: string;
  strict: boolean;
}

export interface ProviderRequest {
  model: string;
  messages: readonly ProviderMessage[];
  maxTokens: number;
  temperature?: number | undefined;
  /** The answer must be a JSON object. */
  jsonMode?: boolean | undefined;
  /** The answer must be JSON following this schema. */
  jsonSchema?: JsonSchemaFormat | undefined;
  tools?: readonly ToolSpec[] | undefined;
  toolChoice?: ToolChoice | undefined;
  /** False: at most one tool call per turn. */
  parallelToolCalls?: boolean | undefined;
  stop?: readonly string[] | undefined;
  /** Best effort; providers without a seed ignore it. */
  seed?: number | undefined;
  /** The caller's end user, for the provider's abuse monitoring. */
  user?: string | undefined;
  /**
   * Continue an answer from this text (already delivered to the caller): sent as an
   * assistant prefix, and only the continuation comes back. Only for adapters that
   * `continuesPrefix`.
   */
  assistantPrefix?: string | undefined;
  /** A canary probe: adapters mark it (header `x-tiermesh-probe: 1`) so provider-side logs can tell it from traffic. */
  probe?: boolean | undefined;
  /** Headers sent with the call (the attempt's W3C trace context, when traced). */
  headers?: Readonly<Record<string, string>> | undefined;
}

/** Request header marking a canary probe. */
export const PROBE_HEADER = "x-tiermesh-probe";

export interface ProviderUsage {
  promptTokens: number;
  completionTokens: number;
}

/**
 * What a streaming provider call yields: text pieces and tool call pieces, then exactly one `done`. A chunk the
 * adapter could not read is passed over as `skipped` (counted and logged by the caller),
 * never fatal on its own.
 */
export type ProviderEvent =
  | { type: "delta"; text: string }
  | { type: "tool_call"; call: ToolCallPiece }
  | { type: "skipped"; reason: string }
  | {
      type: "done";
      finishReason: string;
      usage: ProviderUsage | undefined /** The model that answered, as the provider names it. */;
      model?: string | undefined;
    };

/** One provider wire format. Adapters throw ProviderError for every failure. */
export interface ProviderAdapter {
  readonly name: string;
  /** The provider continues an assistant prefix (`ProviderRequest.assistantPrefix`). */
  readonly continuesPrefix: boolean;
  /** Where calls go (for the attempt span's `server.address` and `server.port`). */
  readonly baseUrl: URL;
  stream(request: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent>;
  close(): Promise<void>;
}

export type ProviderAdapterFactory = (name: string, config: ProviderConfig, apiKey: string | undefined) => ProviderAdapter;

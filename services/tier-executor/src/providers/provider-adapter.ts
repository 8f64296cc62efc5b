import type { ProviderConfig } from "@tiermesh/config";

export interface ProviderMessage {
  role: string;
  content: string;
}

export interface ProviderRequest {
  model: string;
  messages: readonly ProviderMessage[];
  maxTokens: number;
  temperature?: number | undefined;
  /** The answer must be a JSON object. */
  jsonMode?: boolean | undefined;
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
 * What a streaming provider call yields: text pieces, then exactly one `done`. A chunk the
 * adapter could not read is passed over as `skipped` (counted and logged by the caller),
 * never fatal on its own.
 */
export type ProviderEvent =
  | { type: "delta"; text: string }
  | { type: "skipped"; reason: string }
  | { type: "done"; finishReason: string; usage: ProviderUsage | undefined; /** The model that answered, as the provider names it. */ model?: string | undefined };

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

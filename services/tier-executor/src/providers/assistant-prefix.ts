import type { ProviderMessage } from "./provider-adapter.js";

/**
 * The messages of a request that continues `prefix`: the prefix as the final assistant
 * message, joined onto the conversation's own last assistant message when it ends with one
 * (the caller's own prefill), since two assistant turns in a row are not a continuation.
 */
export function withAssistantPrefix(messages: readonly ProviderMessage[], prefix: string): ProviderMessage[] {
  const last = messages.at(-1);
  if (last?.role === "assistant") return [...messages.slice(0, -1), { role: "assistant", content: last.content + prefix }];
  return [...messages, { role: "assistant", content: prefix }];
}

import { ProviderError } from "./provider-error.js";

/** JSON text the request carries (a schema, a tool call's arguments), parsed; a client error naming `what` when it is not JSON. */
export function parseJsonText(name: string, what: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ProviderError("client", `${name}: ${what} is not valid JSON`);
  }
}
